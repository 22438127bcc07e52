"""Graceful shutdown: SIGTERM with slow requests in flight; all finish with 200, new connections are
refused, readiness turns 503 at once, and the process exits 0."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time

import httpx
import pytest

from tests.conftest import start_predictor
from tests.reliability.figures import record

LONG = "This fall I am taking Introduction to Artificial Intelligence and Linear Algebra. " * 20
SLOW = {"instances": [LONG[:1500]] * 24}  # about a second or more of work each on this CPU
IN_FLIGHT = 3


def connect_refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return True
    return False


def test_sigterm_drains_in_flight_requests_refuses_new_ones_and_exits_0(extractor_dir):
    predictor = start_predictor("predictors.extractor", "extractor", extractor_dir)
    try:
        predictor.wait_ready()
        predict = f"{predictor.url}/v1/models/extractor:predict"
        results: list[tuple[int, list]] = []

        def slow() -> None:
            response = httpx.post(predict, json=SLOW, timeout=120)
            results.append((response.status_code, response.json().get("predictions", [])))

        keep_alive = httpx.Client(timeout=5)  # a connection opened before the signal
        assert keep_alive.get(f"{predictor.url}/v1/models/extractor").status_code == 200
        workers = [threading.Thread(target=slow) for _ in range(IN_FLIGHT)]
        for worker in workers:
            worker.start()
        time.sleep(0.5)  # the requests reach the server
        signalled = time.monotonic()
        predictor.process.terminate()

        refused = False
        while time.monotonic() - signalled < 5 and not refused:
            refused = connect_refused(predictor.url)
            time.sleep(0.05)
        assert refused, "still accepting new connections 5 s after SIGTERM"
        # on an old connection readiness no longer says yes, or the server closed it (as good)
        with contextlib.suppress(httpx.TransportError):
            assert keep_alive.get(f"{predictor.url}/v1/models/extractor").status_code == 503
        still_running = sum(worker.is_alive() for worker in workers)

        for worker in workers:
            worker.join(timeout=120)
        exit_code = predictor.process.wait(timeout=60)
        drained_in = time.monotonic() - signalled
    finally:
        if predictor.process.poll() is None:
            predictor.process.kill()
    assert still_running > 0, "the requests finished before the signal: nothing was drained"
    assert [status for status, _ in results] == [200] * IN_FLIGHT
    assert all(len(predictions) == 24 and predictions[0]["courses"] for _, predictions in results)
    assert exit_code == 0
    record(
        "drain",
        in_flight=IN_FLIGHT,
        still_running_at_sigterm=still_running,
        completed_200=len(results),
        exit_code=exit_code,
        drained_in_s=round(drained_in, 1),
    )


@pytest.mark.parametrize("delay_s", [0.0, 0.3, 0.6])
def test_sigterm_while_loading_exits_0_without_waiting_for_the_load(extractor_dir, delay_s):
    """At several points of the load (which runs in native code: safetensors, tokenizers, torch).
    Once this aborted with SIGABRT ("terminate called without an active exception")."""
    predictor = start_predictor("predictors.extractor", "extractor", extractor_dir)
    status = None
    deadline = time.monotonic() + 60
    while status is None and time.monotonic() < deadline:  # until the port is open
        try:
            status = httpx.get(f"{predictor.url}/v1/models/extractor", timeout=2).status_code
        except httpx.TransportError:
            time.sleep(0.05)
    assert status in (503, 200)  # 503: still loading, the case this is about (the load takes seconds)
    time.sleep(delay_s)
    started = time.monotonic()
    predictor.process.terminate()
    try:
        assert predictor.process.wait(timeout=30) == 0
    except subprocess.TimeoutExpired:
        predictor.process.kill()
        raise
    assert time.monotonic() - started < 15
