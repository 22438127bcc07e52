"""One Ray Serve round trip on CPU: `python -m predictors.extractor --ray` answers the same V1/V2 API
through the kserve SDK's RayModel. Ray 2.60's internal gRPC servers listen on every interface, so
the server and its client run in a network namespace of their own with only a loopback interface."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytest.importorskip("ray.serve", reason="Ray Serve is not installed (pip install 'ray[serve]')")


def test_ray_serve_round_trip(extractor_dir):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs root, unshare and ip to give Ray a network namespace of its own")
    script = ROOT / "tests" / "server" / "ray_round_trip.py"
    result = subprocess.run(
        [
            "unshare",
            "--net",
            "sh",
            "-c",
            'ip link set lo up && exec "$0" "$1" "$2"',
            sys.executable,
            str(script),
            str(extractor_dir),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=420,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "seconds_to_ready" in report, report
    status, body = report["v1"]
    assert status == 200
    assert [[c["text"] for c in p["courses"]] for p in body["predictions"]] == [
        ["Organic Chemistry"],
        ["Linear Algebra"],
    ]
    assert report["bad"] == [400, {"error": "instances[0].text: text is empty"}]
    status, body = report["v2"]
    assert status == 200 and body["id"] == "ray-1"
    assert json.loads(body["outputs"][0]["data"][0])[0]["text"] == "CS 101"
    assert report["exit_code"] == 0  # SIGTERM stops the server and its Ray node cleanly
