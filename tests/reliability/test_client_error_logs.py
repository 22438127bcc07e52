"""A client's mistake is one WARNING line in the server log, never an ERROR with a traceback:
50 invalid requests of every kind against a real predictor process."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from tests.conftest import ROOT, Predictor, free_port

BAD = [
    ("post", "/v1/models/extractor:predict", {"content": b"not json"}),
    ("post", "/v1/models/extractor:predict", {"json": {"instances": []}}),
    ("post", "/v1/models/extractor:predict", {"json": {"instances": [{"text": ""}]}}),
    ("post", "/v1/models/extractor:predict", {"json": {"instances": [7]}}),
    ("post", "/v1/models/extractor:predict", {"content": b'{"instances": ["\xff"]}'}),
    ("post", "/v1/models/nope:predict", {"json": {"instances": ["x"]}}),
    ("post", "/v2/models/extractor/infer", {"json": {"inputs": []}}),
    (
        "post",
        "/v2/models/extractor/infer",
        {"content": b"\x00", "headers": {"content-type": "application/octet-stream"}},
    ),
    ("post", "/extract-course-name/", {"json": {"txt": "x"}}),
    ("post", "/v1/models/extractor:explain", {"json": {}}),
]


def test_fifty_invalid_requests_leave_no_traceback(extractor_dir, tmp_path):
    log = tmp_path / "server.log"
    port = free_port()
    with log.open("w") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "predictors.extractor",
                "--model_dir",
                str(extractor_dir),
                "--host",
                "127.0.0.1",
                "--http_port",
                str(port),
            ],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
    predictor = Predictor(process, f"http://127.0.0.1:{port}", "extractor")
    try:
        predictor.wait_ready()
        statuses = []
        with httpx.Client(base_url=predictor.url, timeout=30) as client:
            for i in range(50):
                method, path, kwargs = BAD[i % len(BAD)]
                statuses.append(getattr(client, method)(path, **kwargs).status_code)
            assert client.post("/v1/models/extractor:predict", json={"instances": ["CS 101"]}).status_code == 200
        assert all(400 <= s < 500 for s in statuses), statuses
    finally:
        assert predictor.stop() == 0
    text = log.read_text()
    assert "Traceback" not in text and " ERROR " not in text, text[-3000:]
    assert text.count("WARNING") >= 40  # one line each (422s and 404s of unknown routes included or not)
