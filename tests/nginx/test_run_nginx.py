"""`make run-nginx` (scripts/run-nginx.sh) as a user meets it: one ready line once everything
answers, no refused connections or tracebacks before it, and a predictor that crashes is
started again, with nginx routing to it once it is back."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import httpx
import pytest

from tests.conftest import ROOT, run_nginx_env

pytestmark = pytest.mark.system


def predictor_pid(port: int) -> int:
    found = subprocess.run(["pgrep", "-f", f"predictors.chatbot .*--http_port {port}"], capture_output=True, text=True)
    pids = [int(p) for p in found.stdout.split()]
    assert len(pids) == 1, found
    return pids[0]


def test_one_ready_line_and_a_crashed_predictor_comes_back(extractor_dir, chatbot_dir):
    env, url, chatbot_port = run_nginx_env()
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "run-nginx.sh")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 240
        while not any(line.startswith("ready: UI and /api") for line in lines):
            assert process.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        before = list(lines)
        assert [line for line in before if line.startswith("ready:")] == [before[-1]], "".join(before)
        noise = [line for line in before if "Traceback" in line or "refused" in line or "connect() failed" in line]
        assert not noise, "".join(before)

        os.kill(predictor_pid(chatbot_port), signal.SIGKILL)
        statuses = set()
        deadline = time.monotonic() + 180
        while True:
            response = httpx.get(f"{url}/api/v1/models/chatbot", timeout=10)
            statuses.add(response.status_code)
            if response.status_code == 200 and len(statuses) > 1:
                break
            assert time.monotonic() < deadline, statuses
            assert process.poll() is None, "".join(lines)  # the stack stays up
            time.sleep(0.5)
        assert statuses - {200} <= {502, 503}  # JSON errors from nginx while it was down
        assert any("chatbot exited" in line and "starting it again" in line for line in lines)
        reply = httpx.post(f"{url}/api/chat", json={"message": "hi"}, timeout=60)
        assert reply.status_code == 200 and reply.json()["response"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=60) == 0, "".join(lines)
        finally:
            if process.poll() is None:
                process.kill()
