"""Start-up: a bad model dir fails fast; readiness is 503 until the model is loaded."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from predictors.common.kserve_server import build_app
from predictors.extractor.model import CourseExtractor
from tests.conftest import run_extractor_to_exit


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda d: None, "does not exist"),
        (lambda d: d.mkdir(), "no config.json"),
        (lambda d: (d.mkdir(), (d / "config.json").write_text("{oops")), "config.json is unreadable"),
        (
            lambda d: (d.mkdir(), (d / "config.json").write_text("{}"), (d / "pytorch_model.bin").write_bytes(b"x")),
            "only pickle weights",
        ),
    ],
)
def test_bad_model_dir_exits_nonzero_with_one_line_reason(tmp_path, setup, reason, capsys):
    from predictors.extractor.__main__ import main

    model_dir = tmp_path / "model"
    setup(model_dir)
    # In process: main() returns before any port opens (the command-line path is shown below).
    assert main(["--model_dir", str(model_dir), "--host", "127.0.0.1", "--http_port", "0"]) != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], lines


def test_the_command_fails_fast_on_a_missing_model_dir(tmp_path):
    result = run_extractor_to_exit(tmp_path / "missing", timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not exist" in lines[0], result.stderr


def test_readiness_is_503_until_loaded_then_200(extractor_dir):
    model = CourseExtractor("extractor", str(extractor_dir), device="cpu")
    client = TestClient(build_app([model]))  # the app the server runs
    response = client.get("/v1/models/extractor")
    assert response.status_code == 503 and "error" in response.json()
    assert client.post("/v1/models/extractor:predict", json={"instances": ["x"]}).status_code == 503
    model.load()
    assert client.get("/v1/models/extractor").json() == {"name": "extractor", "ready": True}
