"""A predictor killed with SIGKILL behind real nginx (frontend/nginx.conf through the ui image's
entrypoint): clients get a fast JSON 502, never a hang, and nginx routes to the predictor again once
it is back on the same port, without a reload."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, start_predictor

pytestmark = pytest.mark.system

FAST = 1.0  # seconds: an answer from nginx with the predictor gone, connection refused on loopback
# A request the torch predictor works on for a few seconds (about 3 s on 2 cores), under nginx's 64 KiB body limit.
SLOW_BODY = json.dumps({"instances": [("I loved Organic Chemistry but Linear Algebra was hard. " * 30)[:1500]] * 40})
assert len(SLOW_BODY) < 64 * 1024


def predict(url: str, body: str = '{"instances":["I loved Organic Chemistry"]}', timeout: float = 60) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/models/extractor:predict",
        content=body,
        timeout=timeout,
        headers={"content-type": "application/json"},
    )


def assert_json_502(response: httpx.Response) -> None:
    """nginx's own answer for an unreachable upstream (error_page 502 503 @unreachable)."""
    assert response.status_code == 502, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"error": "the model server is not reachable"}


def timed(send) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


@pytest.fixture
def nginx_in(nginx) -> Callable[[int, int], tuple[str, Path]]:
    """Start nginx the way the ui image does; start(chatbot_port, extractor_port) -> (url, log)."""
    return lambda chatbot_port, extractor_port: nginx(
        CHATBOT_UPSTREAM=f"127.0.0.1:{chatbot_port}", EXTRACTOR_UPSTREAM=f"127.0.0.1:{extractor_port}"
    )


def test_kill_9_gives_fast_json_502s_and_nginx_recovers_without_reload(extractor_dir, nginx_in):
    # The torch runtime: the int8 ONNX one answers SLOW_BODY in under the 0.7 s the test waits
    # before the kill, and no slower body fits under nginx's limit. A crash is a crash either way.
    predictor = start_predictor("predictors.extractor", "extractor", extractor_dir, "--runtime", "torch")
    port = int(predictor.url.rsplit(":", 1)[1])
    restarted = None
    try:
        predictor.wait_ready()
        url, log = nginx_in(free_port(), port)  # nothing listens on the chatbot's port
        response = predict(url)
        assert response.status_code == 200, response.text
        assert [c["text"] for c in response.json()["predictions"][0]["courses"]] == ["Organic Chemistry"]

        # A slow request in flight when the predictor dies: its client gets a 502 at once, not a hang.
        in_flight: dict = {}

        def slow() -> None:
            in_flight["response"] = predict(url, SLOW_BODY, timeout=30)
            in_flight["done"] = time.monotonic()

        worker = threading.Thread(target=slow, daemon=True)
        worker.start()
        time.sleep(0.7)  # the body is sent and the model is working on it
        assert worker.is_alive(), "the slow request finished before the kill"
        predictor.process.kill()
        killed = time.monotonic()
        predictor.process.wait(timeout=10)
        worker.join(timeout=10)
        assert not worker.is_alive(), "the in-flight request hangs after kill -9"
        assert_json_502(in_flight["response"])
        in_flight_seconds = in_flight["done"] - killed
        assert in_flight_seconds < FAST
        # it really was in flight: nginx lost the upstream mid-request, not at connect()
        assert re.search(r"(prematurely closed connection|reset by peer).*while (reading|sending)", log.read_text())

        # While it is down: every request is a fast JSON 502 (V1 predict, readiness, tutorial route).
        down = []
        for send in [lambda: predict(url, timeout=10)] * 4 + [
            lambda: httpx.get(f"{url}/api/v1/models/extractor", timeout=10),
            lambda: httpx.post(f"{url}/api/extract-course-name/", json={"text": "CS 101"}, timeout=10),
        ]:
            response, seconds = timed(send)
            assert_json_502(response)
            down.append(seconds)
        assert max(down) < FAST, down

        # Back on the same port: nginx routes to it as soon as it answers, with no reload and no hold-off.
        restart = time.monotonic()
        # start_predictor picks a free port; a second --http_port wins (argparse keeps the last value).
        restarted = start_predictor("predictors.extractor", "extractor", extractor_dir, "--http_port", str(port))
        restarted.url = predictor.url
        loading = []
        deadline = restart + 120
        while True:
            assert restarted.process.poll() is None, f"the restarted predictor exited: {restarted.process.returncode}"
            try:  # the predictor itself first: once it is ready, nginx must be too
                direct_ready = httpx.get(f"{restarted.url}/v1/models/extractor", timeout=2).status_code == 200
            except httpx.TransportError:
                direct_ready = False
            response, seconds = timed(lambda: httpx.get(f"{url}/api/v1/models/extractor", timeout=10))
            if response.status_code == 200:
                break
            assert not direct_ready, f"the predictor is ready but nginx answers {response.status_code}"
            # still loading: refused (nginx's 502) or not ready yet (the predictor's own 503), fast and JSON
            assert response.status_code in (502, 503), response.text
            assert isinstance(response.json(), dict)
            loading.append(seconds)
            assert time.monotonic() < deadline, "nginx does not reach the restarted predictor after 120 s"
            time.sleep(0.25)
        recovered = time.monotonic() - restart
        assert max(loading, default=0) < FAST, loading
        # one server per upstream: nginx never marks it down (max_fails is ignored), so no hold-off
        assert "no live upstreams" not in log.read_text()
        response = predict(url)
        assert response.status_code == 200, response.text
        assert [c["text"] for c in response.json()["predictions"][0]["courses"]] == ["Organic Chemistry"]
        print(
            f"\nin-flight 502 after kill: {in_flight_seconds * 1000:.0f} ms; down 502s: "
            f"{', '.join(f'{s * 1000:.0f}' for s in down)} ms; during reload: max "
            f"{max(loading, default=0) * 1000:.0f} ms over {len(loading)}; back through nginx "
            f"{recovered:.1f} s after the restart"
        )
    finally:
        predictor.stop()
        if restarted is not None:
            restarted.stop()
