"""schemathesis over each predictor's own OpenAPI document: every documented operation, called with
inputs generated from its schema (positive and negative), never answers 5xx. Two runs per model:
path parameters generated freely (unknown models), then `model_name` set to the served model so
the bodies reach it.

Through schemathesis' CLI: its pytest plugin does not load under this pytest version."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.reliability.figures import record

EXAMPLES = 20  # per operation and phase


def schemathesis_run(base_url: str, config: Path | None, workdir: Path) -> subprocess.CompletedProcess:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert cli, "schemathesis is a dev dependency (pyproject.toml)"
    options = ["--config-file", str(config)] if config else []
    return subprocess.run(
        [
            cli,
            *options,
            "run",
            f"{base_url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(EXAMPLES),
            "--generation-deterministic",
            "--request-timeout",
            "60",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=workdir,
    )  # its cache dir goes there


def check(predictor, name: str, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.model_name" = "{name}"\n')
    figures = {}
    for run, config_file in (("any_model_name", None), ("served_model", config)):
        result = schemathesis_run(predictor.url, config_file, tmp_path)
        summary = result.stdout[-4000:]
        assert result.returncode == 0, summary
        tested = re.search(r"Tested: (\d+)", summary)
        cases = re.search(r"(\d+) generated, (\d+) passed", summary)
        assert tested and cases and cases[1] == cases[2], summary
        figures[run] = {"operations": int(tested[1]), "cases": int(cases[1])}
    record(f"openapi_{name}", **figures)


def test_extractor_openapi_never_answers_5xx(extractor, tmp_path):
    check(extractor, "extractor", tmp_path)


def test_chatbot_openapi_never_answers_5xx(chatbot, tmp_path):
    check(chatbot, "chatbot", tmp_path)
