"""scripts/build-models.sh's cache keys: what changes the weights changes the key, serving code
does not; a cached model is reused, and FORCE=1 retrains. Run on a copy of the tree (scripts/,
predictors/, training/), the script's own `--print-key`; training is replaced by a stub."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

MODELS = ("extractor", "chatbot")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("scripts", "predictors", "training"):
        shutil.copytree(ROOT / part, copy / part, ignore=ignore)
    return copy


def run(tree: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["bash", str(tree / "scripts" / "build-models.sh"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHON": sys.executable, **env},
    )
    assert result.returncode == 0, result.stderr
    return result


def keys(tree: Path) -> dict[str, str]:
    lines = run(tree, "--print-key", *MODELS).stdout.split()
    assert len(lines) == 2 and all(len(key) == 16 for key in lines), lines
    return dict(zip(MODELS, lines, strict=True))


def edit(path: Path, text: str = "\n# edited\n") -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)


def test_the_key_does_not_depend_on_where_the_clone_is(tree):
    assert keys(tree) == keys(ROOT)


@pytest.mark.parametrize(
    "serving_file",
    [
        "predictors/chatbot/routes.py",
        "predictors/chatbot/model.py",
        "predictors/chatbot/generation.py",  # measures and gates, trains nothing (see build-models.sh)
        "predictors/chatbot/card.py",
        "predictors/extractor/routes.py",
        "predictors/extractor/inference.py",  # scores and picks the threshold, trains nothing
        "predictors/extractor/spans.py",
        "predictors/extractor/onnx_tagger.py",
        "training/extractor/export_onnx.py",  # the export has a key of its own: re-exports, no retraining
        "predictors/common/model_dir.py",
        "predictors/common/device.py",
        "predictors/ui.py",
    ],
)
def test_a_serving_edit_keeps_both_keys(tree, serving_file):
    before = keys(tree)
    edit(tree / serving_file)
    assert keys(tree) == before


@pytest.mark.parametrize(
    ("changed", "model"),
    [
        ("training/chatbot/train_tiny.py", "chatbot"),
        ("training/chatbot/corpus.py", "chatbot"),
        ("training/chatbot/dialogues/smalltalk.yml", "chatbot"),
        ("training/data/chat_heldout/campus.yml", "chatbot"),
        ("training/extractor/train.py", "extractor"),
        ("training/extractor/genres.py", "extractor"),
        ("training/extractor/evaluation.py", "extractor"),
        ("training/data/realistic_courses.jsonl", "extractor"),
        ("training/data/realtext/dev.txt", "extractor"),
        ("training/data/written/forum_blog_chat.txt", "extractor"),
        ("predictors/extractor/casing.py", "extractor"),  # the token type ids the model is trained on
    ],
)
def test_a_training_edit_changes_that_models_key_only(tree, changed, model):
    before = keys(tree)
    edit(tree / changed)
    after = keys(tree)
    assert after[model] != before[model]
    other = next(m for m in MODELS if m != model)
    assert after[other] == before[other]


def test_a_new_training_file_changes_the_key_and_bytecode_does_not(tree):
    before = keys(tree)
    cache = tree / "training" / "chatbot" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "corpus.cpython-311.pyc").write_bytes(b"\0")
    assert keys(tree) == before
    (tree / "training" / "chatbot" / "dialogues" / "sport.yml").write_text("categories: [sport]\n")
    assert keys(tree)["chatbot"] != before["chatbot"]


def test_an_unknown_model_is_an_error(tree):
    result = subprocess.run(
        ["bash", str(tree / "scripts" / "build-models.sh"), "--print-key", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert result.returncode != 0 and "unknown model 'nope'" in result.stderr


def test_cached_models_are_reused_and_force_retrains(tree, tmp_path):
    """A stub python: `-c` runs the real one (the library versions), `-m training...` writes a
    model dir and counts the runs."""
    log = tmp_path / "trained.log"
    stub = tmp_path / "python"
    stub.write_text(f"""#!/usr/bin/env bash
if [[ $1 == -m ]]; then
  echo "$2" >> {log}
  mkdir -p "$4" && echo '{{}}' > "$4/config.json"
  exit 0
fi
exec {sys.executable} "$@"
""")
    stub.chmod(0o755)
    env = {"PYTHON": str(stub), "SIMPLECHAT_CACHE": str(tmp_path / "cache")}

    def trained() -> list[str]:
        return log.read_text().split() if log.exists() else []

    run(tree, "chatbot", **env)
    assert trained() == ["training.chatbot.train_tiny"]
    key = keys(tree)["chatbot"]
    assert (tree / "models" / "chatbot" / ".cache-key").read_text().strip() == key
    assert (tmp_path / "cache" / "models" / f"chatbot-{key}" / ".complete").exists()
    assert not (tree / "models" / "chatbot" / "checkpoints").exists()

    edit(tree / "predictors" / "chatbot" / "routes.py")  # serving only: the cached model stays
    assert "cached model" in run(tree, "chatbot", **env).stdout
    assert trained() == ["training.chatbot.train_tiny"]

    run(tree, "chatbot", **env, FORCE="1")
    assert trained() == ["training.chatbot.train_tiny"] * 2

    run(tree, **env)  # both by default: the extractor is new (trained, then exported), the chatbot cached
    exported = ["training.extractor.train", "training.extractor.export_onnx"]
    assert trained() == ["training.chatbot.train_tiny"] * 2 + exported

    run(tree, "extractor", **env)  # trained and exported: nothing to do
    assert trained() == ["training.chatbot.train_tiny"] * 2 + exported

    edit(tree / "training" / "extractor" / "export_onnx.py")  # a new export of the cached weights
    assert "cached model" in run(tree, "extractor", **env).stdout
    assert trained() == ["training.chatbot.train_tiny"] * 2 + exported + ["training.extractor.export_onnx"]
