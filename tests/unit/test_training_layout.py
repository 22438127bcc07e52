"""Training lives in training/, outside the served package: the wheel and the serving images
carry predictors/ only, serving never imports training, and the trainer stages see the data."""

from __future__ import annotations

import ast
import fnmatch
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

TRAINING_MODULES = {
    "train",
    "train_tiny",
    "dataset",
    "corpus",
    "catalog",
    "templates",
    "genres",
    "distractors",
    "evaluation",
}


def test_the_wheel_holds_the_serving_package_only(tmp_path):
    """`pip wheel . --no-deps`, offline (this venv's setuptools), built from a copy of the tree so
    the clone gets no build/ or egg-info."""
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for part in ("predictors", "training"):
        shutil.copytree(ROOT / part, source / part, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp_path / "dist"),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = (tmp_path / "dist").glob("simplechat-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    code = [n for n in names if ".dist-info/" not in n]
    assert "predictors/chatbot/model.py" in code and "predictors/extractor/casing.py" in code
    assert all(n.startswith("predictors/") for n in code), [n for n in code if not n.startswith("predictors/")]
    assert not [n for n in code if Path(n).stem in TRAINING_MODULES], "training modules in the wheel"
    assert not [n for n in code if n.endswith((".yml", ".jsonl", ".txt"))], "training data in the wheel"
    for top_level in [n for n in names if n.endswith(".dist-info/top_level.txt")]:
        assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["predictors"]


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
    return modules


def test_serving_never_imports_training():
    for path in sorted((ROOT / "predictors").rglob("*.py")):
        training = {m for m in imported_modules(path) if m == "training" or m.startswith("training.")}
        assert not training, f"{path.relative_to(ROOT)} imports {training}"
    leftovers = {p.stem for p in (ROOT / "predictors").rglob("*.py")} & TRAINING_MODULES
    assert not leftovers, f"training modules still in predictors/: {leftovers}"
    assert not (ROOT / "predictors" / "chatbot" / "dialogues").exists()


def test_training_data_is_beside_the_training_code():
    from training import DATA_DIR
    from training.chatbot import corpus, train_tiny
    from training.extractor import evaluation, train

    assert DATA_DIR == ROOT / "training" / "data"
    assert train.DEFAULT_REALISTIC.is_file() and evaluation.REALTEXT.is_dir()
    assert {p.name for p in evaluation.REALTEXT.glob("*.txt")} == {"dev.txt", "test.txt"}
    assert sorted(train_tiny.HELDOUT_DIR.glob("*.yml")) and sorted(corpus.PROJECT_DIR.glob("*.yml"))
    assert not [p for p in (ROOT / "tests" / "data").iterdir() if p.name != "crds"]


def test_a_missing_evaluation_file_fails_training_instead_of_being_skipped(tmp_path):
    from training.extractor import train

    assert train.evaluation_files(train.parse_args([])) == {
        "realistic": train.DEFAULT_REALISTIC,
        "realtext_dev": train.REALTEXT / "dev.txt",
        "realtext_test": train.REALTEXT / "test.txt",
    }
    with pytest.raises(SystemExit, match="missing.jsonl"):
        train.evaluation_files(train.parse_args(["--realistic", str(tmp_path / "missing.jsonl")]))
    with pytest.raises(SystemExit, match="dev.txt"):
        train.evaluation_files(train.parse_args(["--realtext", str(tmp_path)]))
    files = train.evaluation_files(train.parse_args(["--realistic", "", "--realtext", ""]))  # left out on purpose
    assert set(files.values()) == {None}


# ---------------------------------------------------------------- the images, without building them
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def stages() -> dict[str, tuple[str, str]]:
    """{stage name: (base, instructions)}, continuation lines joined, comments left out."""
    parts = re.split(r"^FROM (\S+) AS (\S+)\n", DOCKERFILE, flags=re.MULTILINE)[1:]
    found = {}
    for base, name, body in zip(parts[::3], parts[1::3], parts[2::3], strict=True):
        lines = [line for line in body.splitlines() if not line.lstrip().startswith("#")]
        found[name] = (base, "\n".join(lines).replace("\\\n", ""))
    return found


def ancestry(name: str, all_stages: dict[str, tuple[str, str]]) -> list[str]:
    chain = [name]
    while (base := all_stages[chain[-1]][0]) in all_stages:
        chain.append(base)
    return chain


def test_serving_images_carry_no_training_code():
    all_stages = stages()
    for image in ("chatbot", "extractor", "ray", "predictor"):
        for stage in ancestry(image, all_stages):
            body = all_stages[stage][1]
            assert "training" not in body, f"{image}: stage {stage} mentions training"
            for source in re.findall(r"^COPY --from=(\S+) (\S+)", body, flags=re.MULTILINE):
                assert source in {
                    ("builder", "/opt/venv"),
                    ("ray-builder", "/opt/venv"),
                    ("chatbot-model", "/mnt/models"),
                    ("extractor-model", "/mnt/models"),
                }, source
    for stage in ("builder", "ray-builder"):  # the venvs the images copy: the wheel, no training/
        assert not any("training" in all_stages[s][1] for s in ancestry(stage, all_stages))


def test_build_time_training_runs_the_training_package():
    all_stages = stages()
    assert "COPY training /src/training" in all_stages["trainer"][1]
    for name, module in [("chatbot", "training.chatbot.train_tiny"), ("extractor", "training.extractor.train")]:
        stage = f"{name}-model-train"
        assert "trainer" in ancestry(stage, all_stages)
        assert re.search(
            rf"^RUN python -m {re.escape(module)} --output-dir /mnt/models\b", all_stages[stage][1], flags=re.MULTILINE
        )
        assert "tests/" not in all_stages[stage][1]


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, roughly: the last matching pattern wins, and a pattern matching a parent
    folder excludes what is inside (`*` may cross `/` here: it only finds more exclusions)."""
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        forms = [pattern]
        if pattern.startswith("**/"):
            forms.append(pattern[3:])
            forms.append("*/" + pattern[3:])
        if any(fnmatch.fnmatchcase(c, form) for c in candidates for form in forms):
            ignored = not negated
    return ignored


def test_the_build_context_holds_what_training_reads():
    """The bug this guards: a .dockerignore that drops the evaluation data, so a Docker-trained
    extractor had no realistic split (the trainer now fails instead of skipping it)."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    files = [
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "training").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert "training/data/realistic_courses.jsonl" in files and "training/data/realtext/dev.txt" in files
    dropped = [f for f in files if dockerignored(f, patterns)]
    assert not dropped, f".dockerignore drops {dropped}"
    for needed in ("predictors/chatbot/model.py", "pyproject.toml", "constraints.txt"):
        assert not dockerignored(needed, patterns)
    assert dockerignored("tests/unit/test_spans.py", patterns) and dockerignored("models/chatbot/config.json", patterns)
