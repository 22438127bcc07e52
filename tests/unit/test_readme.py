"""The README and the docs stay short, linked and true: the README's length, every relative link
and every repository path they name, the example blocks' form, and the figures copied from
generated files (models/<name>/metrics.json, bench/results.json) against those files.

The example replies themselves are checked against running predictors in
tests/server/test_readme_examples.py."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
MAX_README_LINES = 200

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
TOP_DIRS = ("predictors/", "training/", "frontend/", "helm/", "manifests/", "scripts/", "tests/", "docs/", "bench/")
GENERATED = {"bench/logs/"}  # written by a run, ignored by git
METRICS_TOLERANCE = 0.02  # rounding, and a rebuild on the same kind of CPU
# A figure the docs give as a range, `0.91–0.92`, is what builds on different CPUs measured
# (docs/training.md: other kernels, other rounding; on sets of a few dozen sentences or turns)
FIGURE = re.compile(r"(-?\d+(?:\.\d+)?)(?:–(-?\d+(?:\.\d+)?))?")


def doc_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    return {slug(heading) for heading in HEADING.findall(prose(doc.read_text()))}


def prose(text: str) -> str:
    """The text outside fenced code blocks."""
    return FENCE.sub("", text)


def test_readme_is_at_most_200_lines():
    lines = README.read_text().count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; details belong in docs/"


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_every_relative_link_resolves(doc: Path):
    broken = []
    for target in LINK.findall(prose(doc.read_text())):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, f"{doc_id(doc)}: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_every_repository_path_named_exists(doc: Path):
    """A path such as `training/data/realtext/` or `predictors/common/batching.py` in the text
    must exist: files move, and the docs must follow."""
    missing = []
    for span in CODE_SPAN.findall(prose(doc.read_text())):
        for word in span.split():
            word = word.split("::")[0].rstrip(".,;:)")  # a test id names its file
            if not word.startswith(TOP_DIRS) or word in GENERATED or any(c in word for c in "<>*…{$"):
                continue
            if not (ROOT / word).exists():
                missing.append(word)
    assert not missing, f"{doc_id(doc)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_commands_use_the_venv(doc: Path):
    """`python -m predictors…` needs the venv: commands say `.venv/bin/python`."""
    bare = [
        line.strip()
        for lang, body in FENCE.findall(doc.read_text())
        if lang in ("bash", "sh", "")
        for line in body.splitlines()
        if re.match(r"\s*python3? ", line)
    ]
    assert not bare, f"{doc_id(doc)}: use .venv/bin/python in {bare}"


def readme_layout_entries() -> list[str]:
    block = next(body for _, body in FENCE.findall(README.read_text().split("## Layout", 1)[1]))
    return [line.split()[0] for line in block.splitlines() if line.strip()]


def test_the_layout_names_what_is_there():
    entries = readme_layout_entries()
    assert entries[:3] == ["pyproject.toml", "README.md", "Makefile"]
    assert {"predictors/", "training/", "frontend/", "helm/", "tests/", "docs/", "bench/"} <= set(entries)
    assert [e for e in entries if not (ROOT / e).exists()] == []


# --- the documented examples: their form here, their replies in tests/server/test_readme_examples.py

EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\s*```bash\n(.*?)```\s*```json\n(.*?)```", re.DOTALL)
CURL = re.compile(r"curl -s (\S+)\s+-d '([^']*)'")


def documented_examples() -> list[tuple[str, str, str, str]]:
    """(name, path, request body, documented response) for each example in the README."""
    examples = []
    for name, command, response in EXAMPLE.findall(README.read_text()):
        url, body = CURL.search(command.replace("\\\n", " ")).groups()
        examples.append((name, url.removeprefix("localhost:8080"), body, response.strip()))
    return examples


def test_examples_are_marked_and_well_formed():
    examples = documented_examples()
    assert len(examples) == README.read_text().count("<!-- example:") >= 2
    for name, path, body, response in examples:
        assert path.startswith("/api/"), name
        json.loads(body)
        json.loads(response)


# --- figures copied from generated files


def decimal_places(number: str) -> int:
    return max(0, -Decimal(number).as_tuple().exponent)


def table_after(doc: Path, marker: str) -> list[list[str]]:
    """The rows (cells, stripped; header and rule dropped) of the table right after `<!-- marker -->`."""
    text = doc.read_text()
    start = text.index(f"<!-- {marker} -->")
    lines = text[start:].splitlines()[1:]
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    assert rows, f"no table after <!-- {marker} --> in {doc_id(doc)}"
    return rows


def numbers(cell: str) -> list[str]:
    return re.findall(r"-?\d+(?:\.\d+)?", cell.replace(",", ""))


def row(rows: list[list[str]], first_cell_starts: str) -> list[str]:
    return next(r for r in rows if r[0].startswith(first_cell_starts))


def assert_figures(cell: str, expected: list[float], tolerance: float, what: str) -> None:
    """Each figure of `cell` (a value, or a range `low–high`) holds its value of `expected`."""
    shown = FIGURE.findall(cell.replace(",", ""))
    assert len(shown) == len(expected), f"{what}: {cell!r} vs {expected}"
    for (low, high), value in zip(shown, expected, strict=True):
        high = high or low
        rounded = round(value, decimal_places(low))
        assert float(low) - tolerance - 1e-9 <= rounded <= float(high) + tolerance + 1e-9, (
            f"{what}: the docs say {low}{'–' + high if high != low else ''}, the generated file {value:.4f}"
        )


def test_extractor_figures_match_its_metrics(extractor_dir: Path):
    metrics = json.loads((extractor_dir / "metrics.json").read_text())
    rows = table_after(ROOT / "docs" / "training.md", "metrics: extractor")

    def prf(key: str) -> list[float]:
        o = metrics[key]["overall"]
        return [o["precision"], o["recall"], o["f1"]]

    genres = metrics["realtext_test"]["genres"]
    expected = {
        "real-writing set, **test**": prf("realtext_test"),
        "real-writing set, dev": prf("realtext_dev"),
        "negative sentences": [100 * metrics["realtext_test"]["overall"]["negatives_clean"]],
        "realistic hand-written": prf("realistic"),
        "synthetic held-out": prf("heldout"),
        "test part, F1 of forum": [genres[g]["f1"] for g in ("forum", "mooc", "catalog", "transcript")],
    }
    for label, values in expected.items():
        tolerance = 100 * METRICS_TOLERANCE if label.startswith("negative") else METRICS_TOLERANCE
        assert_figures(row(rows, label)[-1], values, tolerance, f"docs/training.md, {label}")


def test_readme_extractor_table_matches_its_metrics(extractor_dir: Path):
    metrics = json.loads((extractor_dir / "metrics.json").read_text())
    rows = table_after(README, "metrics: readme-extractor")
    test, heldout = metrics["realtext_test"]["overall"], metrics["heldout"]["overall"]
    expected = {
        "real writing, test part": [test["precision"], test["recall"], test["f1"]],
        "negative sentences": [100 * test["negatives_clean"]],
        "synthetic held-out": [heldout["precision"], heldout["recall"], heldout["f1"]],
    }
    for label, values in expected.items():
        tolerance = 100 * METRICS_TOLERANCE if label.startswith("negative") else METRICS_TOLERANCE
        assert_figures(row(rows, label)[-1], values, tolerance, f"README.md, {label}")


def test_chatbot_figures_match_its_metrics(chatbot_dir: Path):
    metrics = json.loads((chatbot_dir / "metrics.json").read_text())
    rows = table_after(ROOT / "docs" / "training.md", "metrics: chatbot")
    wf = metrics["well_formed"]
    turns = ("turn1", "turn2", "turn3")

    def share(part: str, key: str) -> list[float]:
        return [100 * wf[part][t][key] / wf[part][t]["replies"] for t in turns]

    expected = {
        "corpus `greetings`": share("corpus", "well_formed"),
        "the project's dialogues": share("project", "well_formed"),
        "held-out dialogues": share("heldout", "well_formed"),
        "held-out, the fallback": share("heldout", "fallback"),
        'held-out, "did not understand"': share("heldout", "unsure"),
    }
    for label, values in expected.items():
        assert_figures(row(rows, label)[-1], values, 100 * METRICS_TOLERANCE, f"docs/training.md, {label}")
    # the turn counts in the labels come from the data, not the training run: exact
    for label, part in (("corpus `greetings`", "corpus"), ("held-out dialogues", "heldout")):
        counts = [int(n) for n in numbers(row(rows, label)[0].split("(")[1].split(")")[0])]
        assert counts == [wf[part][t]["replies"] for t in turns], label
    gate = row(rows, "the reply gate")[-1]
    assert float(gate) == metrics["reply_gate"]["min_mean_logprob"]


BENCH = ROOT / "bench"


def bench_results() -> dict:
    return json.loads((BENCH / "results.json").read_text())


def test_bench_readme_names_the_run_of_results_json():
    results = bench_results()
    text = (BENCH / "README.md").read_text()
    assert results["timestamp"][:10] in text
    assert f"{results['wall_s']:.0f} s" in text


def test_bench_raw_table_matches_results_json():
    results = bench_results()
    rows = table_after(BENCH / "README.md", "bench: raw")
    expected = [
        [model, str(b["batch"]), b["items_per_s"], b["p50_ms"]]
        for model, raw in results["raw"].items()
        for b in raw["batches"]
    ]
    assert len(rows) == len(expected)
    for cells, (model, batch, items, p50) in zip(rows, expected, strict=True):
        assert cells[:2] == [model, batch]
        assert_figures(f"{cells[2]} {cells[3]}", [items, p50], 0, f"bench raw {model} batch {batch}")


def test_bench_servers_table_matches_results_json():
    results = bench_results()
    rows = table_after(BENCH / "README.md", "bench: servers")
    assert [r[:2] for r in rows] == [[s["model"], s["mode"]] for s in results["servers"]]
    for cells, server in zip(rows, results["servers"], strict=True):
        assert_figures(
            " ".join(cells[2:]), [r["req_s"] for r in server["rows"]], 0, f"bench {server['model']} {server['mode']}"
        )


def test_bench_targets_table_matches_results_json():
    results = bench_results()
    rows = table_after(BENCH / "README.md", "bench: targets")
    assert len(rows) == len(results["targets"])
    for cells, target in zip(rows, results["targets"], strict=True):
        assert cells[0] == target["target"].strip()
        assert cells[2] == target["status"]
        assert_figures(cells[1], [target["value"]], 0, f"bench target {cells[0]}")
