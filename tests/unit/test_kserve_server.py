"""The kserve SDK pieces kserve_server.py builds on, and which SDK flags are honoured or refused.

When a kserve upgrade moves one of these, this file says which, before anything else fails
in a stranger way."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from kserve import Model, model_server

from predictors.common import kserve_server
from predictors.common.cli import build_parser
from predictors.common.kserve_server import HONOURED_FLAGS, REFUSED_FLAGS, build_app
from tests.conftest import ROOT


def test_the_sdk_pieces_we_build_on_are_where_we_expect_them():
    from kserve.model_repository import ModelRepository
    from kserve.protocol.dataplane import DataPlane
    from kserve.protocol.rest.v1_endpoints import register_v1_endpoints
    from kserve.protocol.rest.v2_endpoints import register_v2_endpoints

    assert list(inspect.signature(register_v1_endpoints).parameters) == [
        "app",
        "dataplane",
        "model_repository_extension",
    ]
    assert list(inspect.signature(register_v2_endpoints).parameters) == [
        "app",
        "dataplane",
        "model_repository_extension",
    ]
    assert "model_registry" in inspect.signature(DataPlane.__init__).parameters
    assert callable(ModelRepository.update) and callable(DataPlane.live)
    model = Model("m")
    assert hasattr(model, "enable_latency_logging") and model.ready is False


def test_every_sdk_flag_is_either_honoured_or_refused():
    sdk = {a.dest for a in model_server.parser._actions if a.option_strings and a.dest != "help"}
    assert sdk == set(HONOURED_FLAGS) | set(REFUSED_FLAGS), sdk ^ (set(HONOURED_FLAGS) | set(REFUSED_FLAGS))
    assert not set(HONOURED_FLAGS) & set(REFUSED_FLAGS)


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--workers", "2"], "--workers 2"),
        (["--enable_grpc", "true"], "--enable_grpc True"),
        (["--grpc_port", "9000"], "--grpc_port 9000"),
        (["--protocol", "v2"], "--protocol v2"),
        (["--predictor_host", "x:80"], "--predictor_host x:80"),
    ],
)
def test_a_refused_flag_exits_2_naming_it(argv, flag, capsys):
    from predictors.extractor.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(["--model_dir", "/nonexistent", *argv])
    assert exit_.value.code == 2
    assert f"{flag} is not supported" in capsys.readouterr().err


def test_a_refused_flag_stops_the_real_command_too():
    command = [sys.executable, "-m", "predictors.chatbot", "--model_dir", "/nonexistent", "--workers", "2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2 and "--workers 2 is not supported" in result.stderr, result.stderr


def test_defaults_and_harmless_values_of_refused_flags_pass():
    parser = build_parser("t", "m")
    for argv in ([], ["--workers", "1"], ["--enable_grpc", "false"], ["--protocol", "v1"]):
        kserve_server.check_sdk_flags(parser, parser.parse_args(argv))  # no SystemExit


@pytest.mark.parametrize(("argv", "loop_class"), [([], "_UnixSelectorEventLoop"), (["--event-loop", "uvloop"], "Loop")])
def test_the_event_loop_flag_chooses_the_loop_that_serves(monkeypatch, argv, loop_class):
    """--event-loop is honoured (asyncio's loop unless asked otherwise): the loop `serve` runs
    the server on is the one the flag names."""
    if "uvloop" in argv:
        pytest.importorskip("uvloop")
    import signal

    seen: list[str] = []

    async def run(server, models, url, workers) -> int:
        seen.append(type(asyncio.get_running_loop()).__name__)
        return 0

    monkeypatch.setattr(kserve_server, "_run", run)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}  # serve sets its own
    try:
        args = build_parser("t", "echo").parse_args(["--host", "127.0.0.1", "--http_port", "0", *argv])
        assert kserve_server.serve([Echo()], args) == 0
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert seen == [loop_class]


class Echo(Model):
    def __init__(self) -> None:
        super().__init__("echo")
        self.ready = True

    async def predict(self, payload, headers=None):
        if payload.get("instances") == ["bad"]:
            from kserve.errors import InvalidInput

            raise InvalidInput("bad instance")
        if payload.get("instances") == ["boom"]:
            raise RuntimeError("a server fault")
        return {"predictions": payload["instances"]}


def test_build_app_serves_v1_v2_and_metrics_and_answers_404_for_what_is_not_served():
    client = TestClient(build_app([Echo()]), raise_server_exceptions=False)
    assert client.post("/v1/models/echo:predict", json={"instances": [1, 2]}).json() == {"predictions": [1, 2]}
    assert client.get("/v2/models/echo/ready").status_code == 200
    assert client.get("/").status_code == 200 and client.get("/metrics").status_code == 200
    for path in ("/v2/repository/models/echo/unload", "/v1/models/echo:explain"):
        response = client.post(path, json={})
        assert response.status_code == 404 and "error" in response.json()
    assert "/v2/repository/models/{model_name}/unload" not in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 404  # docs only with --enable_docs_url
    assert TestClient(build_app([Echo()], docs=True)).get("/docs").status_code == 200


def test_a_client_error_is_one_warning_line_and_a_server_fault_an_error_with_traceback(caplog):
    client = TestClient(build_app([Echo()]), raise_server_exceptions=False)
    with caplog.at_level("INFO", logger="kserve"):
        for _ in range(50):
            assert client.post("/v1/models/echo:predict", json={"instances": ["bad"]}).status_code == 400
        assert client.post("/v1/models/nope:predict", json={"instances": [1]}).status_code == 404
    client_errors = [r for r in caplog.records if r.levelname != "INFO"]
    assert len(client_errors) == 51 and all(r.levelname == "WARNING" and r.exc_info is None for r in client_errors)
    assert all(r.getMessage().count("\n") == 0 for r in client_errors)
    caplog.clear()
    with caplog.at_level("INFO", logger="kserve"):
        response = client.post("/v1/models/echo:predict", json={"instances": ["boom"]})
    assert response.status_code == 500 and response.json() == {"error": "a server fault"}
    (fault,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert fault.exc_info is not None


def test_error_texts_read_well():
    """No internal class names, no glued words, a plain reason for bytes that are not UTF-8."""
    from predictors.chatbot.schema import ChatInstance
    from predictors.common.payload import decode_json, parse_instances

    with pytest.raises(Exception) as bad_instance:
        parse_instances({"instances": ["hi"]}, ChatInstance, 8, {"max_message_chars": 100})
    assert str(bad_instance.value) == "instances[0]: must be a JSON object"
    with pytest.raises(Exception) as not_utf8:
        decode_json(b'{"instances": ["\xff"]}')
    assert str(not_utf8.value) == "request body is not UTF-8 text (byte 16 is not)"
    client = TestClient(build_app([Echo()]))
    response = client.post(
        "/v2/models/echo/infer", content=b"\x00\x01", headers={"content-type": "application/octet-stream"}
    )
    assert response.status_code == 400 and "the 'inference-header-content-length' header" in response.json()["error"]
