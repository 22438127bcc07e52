"""Run inside a network namespace by test_ray_serve.py: start `python -m predictors.extractor --ray`,
call it, stop it, print what happened as one JSON document on the last line of stdout."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import httpx

model_dir, port = sys.argv[1], 8080
server = subprocess.Popen(
    [
        sys.executable,
        "-m",
        "predictors.extractor",
        "--ray",
        "--model_dir",
        model_dir,
        "--host",
        "127.0.0.1",
        "--http_port",
        str(port),
        "--num_cpus",
        "1",
    ],
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
url = f"http://127.0.0.1:{port}"
report: dict = {}
try:
    started = time.monotonic()
    while time.monotonic() - started < 240:
        if server.poll() is not None:
            break
        try:
            if httpx.get(f"{url}/v1/models/extractor", timeout=2).status_code == 200:
                report["seconds_to_ready"] = round(time.monotonic() - started, 1)
                break
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    if "seconds_to_ready" in report:
        v1 = httpx.post(
            f"{url}/v1/models/extractor:predict",
            timeout=60,
            content=b'{"instances":["I loved Organic Chemistry", {"text": "Linear Algebra is hard"}]}',
        )
        report["v1"] = [v1.status_code, v1.json()]
        bad = httpx.post(f"{url}/v1/models/extractor:predict", json={"instances": [""]}, timeout=60)
        report["bad"] = [bad.status_code, bad.json()]
        text = {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["I took CS 101"]}
        body = {"id": "ray-1", "inputs": [text]}
        v2 = httpx.post(f"{url}/v2/models/extractor/infer", json=body, timeout=60)
        report["v2"] = [v2.status_code, v2.json()]
finally:
    server.send_signal(signal.SIGTERM)
    try:
        report["exit_code"] = server.wait(timeout=90)
    except subprocess.TimeoutExpired:
        server.kill()
        report["exit_code"] = "hung"
print(json.dumps(report))
