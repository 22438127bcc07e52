"""frontend/nginx.conf under real nginx (scripts/run-nginx.sh): routing, limits, security headers."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, install_system_deps, long_reply_arrivals

pytestmark = pytest.mark.system

# The entrypoint's own envsubst list, so the two cannot drift apart.
PLACEHOLDERS = re.search(r"envsubst '([^']*)'", (ROOT / "frontend" / "nginx-entrypoint.sh").read_text()).group(1)
SECURITY_HEADERS = ("x-content-type-options", "content-security-policy", "referrer-policy", "x-frame-options")


def render(values: dict[str, str]) -> str:
    """frontend/nginx.conf through envsubst with an explicit list, as the script and the nginx image do."""
    result = subprocess.run(
        ["envsubst", PLACEHOLDERS],
        input=(ROOT / "frontend" / "nginx.conf").read_text(),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **values},
    )
    return result.stdout


def test_nginx_t_accepts_the_rendered_config(tmp_path: Path):
    install_system_deps("nginx", "envsubst")
    site = render(
        {
            "NGINX_LISTEN": "127.0.0.1:8080",
            "UI_ROOT": str(ROOT / "frontend"),
            "CHATBOT_UPSTREAM": "127.0.0.1:9001",
            "EXTRACTOR_UPSTREAM": "127.0.0.1:9002",
            "TRUSTED_PROXY_CIDR": "10.0.0.0/8",
            "NGINX_RESOLVER": "10.96.0.10",
            "NGINX_RESOLVER_VALID": "10s",
            "NGINX_RESOLVER_TIMEOUT": "5s",
        }
    )
    assert not [line for line in site.splitlines() if "${" in line and not line.lstrip().startswith("#")]
    assert "$binary_remote_addr" in site and "$proxy_add_x_forwarded_for" in site  # nginx's own variables survive
    (tmp_path / "site.conf").write_text(site)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log stderr; events {{}}\n"
        f"http {{ include /etc/nginx/mime.types; include {tmp_path}/site.conf; }}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_static_ui(nginx_stack):
    page = httpx.get(f"{nginx_stack}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text == (ROOT / "frontend" / "index.html").read_text(encoding="utf-8")
    assert page.headers["server"] == "nginx"  # server_tokens off: no version
    for name, kind in (("app.js", "javascript"), ("styles.css", "text/css")):
        asset = httpx.get(f"{nginx_stack}/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"]
    assert httpx.get(f"{nginx_stack}/no-such-file.js").status_code == 404


def test_v1_routes_strip_the_api_prefix(nginx_stack):
    response = httpx.post(
        f"{nginx_stack}/api/v1/models/extractor:predict",
        content=b'{"instances":["I loved Organic Chemistry"]}',
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert [c["text"] for c in response.json()["predictions"][0]["courses"]] == ["Organic Chemistry"]
    chat = httpx.post(
        f"{nginx_stack}/api/v1/models/chatbot:predict", json={"instances": [{"message": "hi"}]}, timeout=60
    )
    assert chat.status_code == 200 and chat.json()["predictions"][0]["response"].strip()
    ready = httpx.get(f"{nginx_stack}/api/v1/models/chatbot").json()
    assert (ready["name"], ready["ready"], ready["model"]["offline_demo"]) == ("chatbot", True, True)


def test_v2_route(nginx_stack):
    body = {"id": "r1", "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["I took CS 101"]}]}
    response = httpx.post(f"{nginx_stack}/api/v2/models/extractor/infer", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == "r1"


def test_tutorial_routes(nginx_stack):
    chat = httpx.post(f"{nginx_stack}/api/chat", json={"message": "hi", "max_length": 100}, timeout=60)
    assert chat.status_code == 200 and chat.json()["response"].strip()
    assert httpx.get(f"{nginx_stack}/api/health").json() == {"status": "healthy"}
    for path in ("/api/extract-course-name/", "/api/extract-course-name"):  # no redirect without the slash
        names = httpx.post(f"{nginx_stack}{path}", json={"text": "I am taking Linear Algebra"}, timeout=60)
        assert names.status_code == 200 and names.json() == {"extracted_course_names": ["Linear Algebra"]}


def test_unknown_api_route_is_a_json_404(nginx_stack):
    response = httpx.get(f"{nginx_stack}/api/v1/models/no-such-model")
    assert response.status_code == 404
    assert response.json() == {"error": "no such API route"}


def test_oversized_body_is_413_json(nginx_stack):
    response = httpx.post(
        f"{nginx_stack}/api/chat", content=b"x" * (64 * 1024 + 1), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "64 KiB" in response.json()["error"]
    # just under the limit reaches the predictor, which refuses it with its own 400
    small = httpx.post(f"{nginx_stack}/api/chat", json={"message": "x" * 60_000}, timeout=60)
    assert small.status_code == 400 and "at most" in small.json()["error"]


def test_burst_is_rate_limited_then_recovers(nginx_stack):
    url = f"{nginx_stack}/api/v1/models/extractor"
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: httpx.get(url, timeout=30).status_code, range(60)))
    assert statuses.count(429) > 0 and statuses.count(200) >= 20, statuses  # burst=20 served at once
    assert set(statuses) <= {200, 429}
    limited = httpx.get(url)
    if limited.status_code == 429:
        assert limited.json()["error"].startswith("too many requests")
    # 10 r/s refills the bucket: after a short pause requests pass again
    time.sleep(2.5)
    assert httpx.get(url).status_code == 200


@pytest.mark.parametrize("case", ["200", "404", "413"])
def test_security_headers_on_every_status(nginx_stack, case):
    if case == "200":
        response = httpx.get(f"{nginx_stack}/")
    elif case == "404":
        response = httpx.get(f"{nginx_stack}/missing.html")
    else:
        response = httpx.post(f"{nginx_stack}/api/chat", content=b"x" * 70_000)
    assert response.status_code == int(case)
    missing = [h for h in SECURITY_HEADERS if h not in response.headers]
    assert not missing, f"{case} lacks {missing}"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_openai_stream_passes_through_unbuffered(nginx_stack):
    """Server-sent events through nginx: the frames of one reply arrive over time, not in one burst."""
    arrivals = long_reply_arrivals(f"{nginx_stack}/api", min_frames=12)
    assert arrivals[-2] - arrivals[1] > 0.01
    models = httpx.get(f"{nginx_stack}/api/openai/v1/models", timeout=30).json()
    assert [m["id"] for m in models["data"]] == ["chatbot"]
