"""Start-up: a bad model dir fails fast; readiness is 503 until the model is loaded."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from kserve import ModelServer
from kserve.protocol.rest.server import RESTServer

from predictors.extractor.model import CourseExtractor
from tests.conftest import ROOT


@pytest.mark.parametrize(("setup", "reason"), [
    (lambda d: None, "does not exist"),
    (lambda d: d.mkdir(), "no config.json"),
    (lambda d: (d.mkdir(), (d / "config.json").write_text("{oops")), "config.json is unreadable"),
    (lambda d: (d.mkdir(), (d / "config.json").write_text("{}"), (d / "pytorch_model.bin").write_bytes(b"x")),
     "only pickle weights"),
])
def test_bad_model_dir_exits_nonzero_with_one_line_reason(tmp_path, setup, reason):
    model_dir = tmp_path / "model"
    setup(model_dir)
    result = subprocess.run(
        [sys.executable, "-m", "predictors.extractor", "--model_dir", str(model_dir),
         "--host", "127.0.0.1", "--http_port", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], result.stderr


def sdk_app(model: CourseExtractor) -> FastAPI:
    """The SDK's own REST app with the model registered, as the server builds it."""
    server = ModelServer(enable_grpc=False, http_port=0)
    server.register_model(model)
    rest = RESTServer("kserve.model_server:app", server.dataplane, server.model_repository_extension, 0)
    app = FastAPI()
    rest._register_endpoints(app)
    rest._add_exception_handlers(app)
    return app


def test_readiness_is_503_until_loaded_then_200(extractor_dir):
    model = CourseExtractor("extractor", str(extractor_dir), device="cpu")
    client = TestClient(sdk_app(model))
    response = client.get("/v1/models/extractor")
    assert response.status_code == 503 and "error" in response.json()
    assert client.post("/v1/models/extractor:predict", json={"instances": ["x"]}).status_code == 503
    model.load()
    assert client.get("/v1/models/extractor").json() == {"name": "extractor", "ready": True}
