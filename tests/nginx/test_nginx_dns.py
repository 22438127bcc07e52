"""frontend/nginx.conf looks the predictors up per request, under real nginx started by the ui
image's entrypoint: it starts while a predictor's Service does not exist yet (JSON 503 for that
model), follows a Service created or recreated later without a reload, leaves a model that is
not deployed out (JSON 404), and takes its DNS servers from resolv.conf.

A small DNS server on 127.0.0.1 plays the cluster's DNS (NXDOMAIN for a missing Service, like
CoreDNS), and a small HTTP server the predictors (it echoes the path it was asked for)."""

from __future__ import annotations

import json
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, install_system_deps
from tests.nginx.conftest import NGINX, entrypoint_env

pytestmark = pytest.mark.system

CHATBOT_NAME = "simplechat-chatbot-predictor.simplechat.svc.cluster.invalid"
EXTRACTOR_NAME = "simplechat-extractor-predictor.simplechat.svc.cluster.invalid"
# Every /api route of each model: (method, path under /api).
ROUTES = {
    "chatbot": [
        ("GET", "/v1/models/chatbot"),
        ("POST", "/v1/models/chatbot:predict"),
        ("POST", "/v2/models/chatbot/infer"),
        ("POST", "/chat"),
        ("GET", "/health"),
        ("POST", "/openai/v1/chat/completions"),
    ],
    "extractor": [
        ("GET", "/v1/models/extractor"),
        ("POST", "/v1/models/extractor:predict"),
        ("POST", "/v2/models/extractor/infer"),
        ("POST", "/extract-course-name/"),
        ("POST", "/extract-course-name"),
    ],
}
NOT_RESOLVED = {"error": "the model server is not available yet: its address does not resolve"}
SECURITY_HEADERS = ("x-content-type-options", "content-security-policy", "referrer-policy", "x-frame-options")


class FakeDNS:
    """UDP DNS on 127.0.0.1: A records from `answers` (name -> IPv4), NXDOMAIN for other names,
    no AAAA records; with `silent`, it reads queries and never answers."""

    def __init__(self, silent: bool = False) -> None:
        self.answers: dict[str, str] = {}
        self.silent = silent
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                query, client = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            if not self.silent:
                self.sock.sendto(self.answer(query), client)

    def answer(self, query: bytes) -> bytes:
        labels, i = [], 12
        while query[i]:
            labels.append(query[i + 1 : i + 1 + query[i]].decode())
            i += query[i] + 1
        qtype = struct.unpack("!H", query[i + 1 : i + 3])[0]
        question = query[12 : i + 5]
        address = self.answers.get(".".join(labels).lower())
        records = b""
        if address and qtype == 1:  # A; a known name has no AAAA: NOERROR with no answer
            records = struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(address)
        flags = 0x8400 | (struct.unpack("!H", query[2:4])[0] & 0x0100) | (0 if address else 3)  # 3: NXDOMAIN
        return query[:2] + struct.pack("!HHHHH", flags, 1, 1 if records else 0, 0, 0) + question + records

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def dns() -> Iterator[Callable[..., FakeDNS]]:
    servers: list[FakeDNS] = []

    def start(silent: bool = False) -> FakeDNS:
        servers.append(FakeDNS(silent))
        return servers[-1]

    try:
        yield start
    finally:
        for server in servers:
            server.close()


class Echo(BaseHTTPRequestHandler):
    """A stand-in predictor: answers 200 with the path (and query) nginx asked for."""

    def answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[int]:
    """The stand-in predictor on 127.0.0.1; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def call(url: str, method: str, path: str) -> httpx.Response:
    return httpx.request(
        method, f"{url}/api{path}", timeout=20, **({"json": {"instances": ["x"]}} if method == "POST" else {})
    )


def assert_json(response: httpx.Response, status: int, body: dict) -> None:
    assert response.status_code == status, f"{response.request.url}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == body
    assert not [h for h in SECURITY_HEADERS if h not in response.headers]


def assert_ui_served(url: str) -> None:
    page = httpx.get(f"{url}/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text == (ROOT / "frontend" / "index.html").read_text(encoding="utf-8")
    assert httpx.get(f"{url}/healthz", timeout=10).text == "ok\n"


@pytest.mark.parametrize("resolver", ["nxdomain", "no answer"])
def test_starts_with_unresolvable_upstreams_and_answers_json_503(nginx, dns, resolver):
    """KServe creates the predictors' Services after the UI may start: nginx must come up, serve
    the UI, and answer a JSON 503 on those models' routes (was: `host not found in upstream`,
    nginx exits, the pod crash-loops)."""
    server = dns(silent=resolver == "no answer")
    url, log = nginx(
        CHATBOT_UPSTREAM=f"{CHATBOT_NAME}:80",
        EXTRACTOR_UPSTREAM=f"{EXTRACTOR_NAME}:80",
        NGINX_RESOLVER=server.address,
        NGINX_RESOLVER_TIMEOUT="1s",
    )
    assert_ui_served(url)
    for routes in ROUTES.values():
        for method, path in routes:
            assert_json(call(url, method, path), 503, NOT_RESOLVED)
    reason = "Host not found" if resolver == "nxdomain" else "timed out"
    assert f"{CHATBOT_NAME} could not be resolved" in log.read_text() and reason in log.read_text()
    assert_ui_served(url)  # still up


def wait_for(url: str, path: str, status: int, seconds: float = 15) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        response = httpx.get(f"{url}/api{path}", timeout=10)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_a_service_created_or_recreated_later_is_followed_without_a_reload(nginx, dns, echo):
    """Names are looked up per request (valid=1s here): a Service that appears after nginx
    started is reached, and a recreated Service's new address replaces the old one."""
    server = dns()
    # The extractor as an IP literal: reached at once, no DNS involved (how local runs work).
    url, _ = nginx(
        CHATBOT_UPSTREAM=f"{CHATBOT_NAME}:{echo}",
        EXTRACTOR_UPSTREAM=f"127.0.0.1:{echo}",
        NGINX_RESOLVER=server.address,
        NGINX_RESOLVER_VALID="1s",
    )
    assert_json(call(url, "GET", "/v1/models/chatbot"), 503, NOT_RESOLVED)
    response = httpx.get(f"{url}/api/v1/models/extractor?verbose=1", timeout=10)
    assert response.json() == {"path": "/v1/models/extractor?verbose=1"}

    server.answers[CHATBOT_NAME] = "127.0.0.1"  # the Service is created
    response = wait_for(url, "/v1/models/chatbot:predict?verbose=1", 200)
    assert response.status_code == 200, response.text
    assert response.json() == {"path": "/v1/models/chatbot:predict?verbose=1"}  # /api stripped, query kept
    assert call(url, "POST", "/chat").json() == {"path": "/chat"}

    # Recreated with a new address where nothing listens yet; the old one still answers, so only a
    # fresh lookup turns the 200s into the JSON 502 of a refused connection.
    server.answers[CHATBOT_NAME] = "127.0.0.2"
    response = wait_for(url, "/v1/models/chatbot", 502)
    assert_json(response, 502, {"error": "the model server is not reachable"})

    server.answers[CHATBOT_NAME] = "127.0.0.1"
    assert wait_for(url, "/v1/models/chatbot", 200).status_code == 200


@pytest.mark.parametrize("disabled", ["chatbot", "extractor"])
@pytest.mark.parametrize("how", ["empty", "unset"])
def test_a_model_that_is_not_deployed_has_no_route_and_the_other_works(nginx, tmp_path, echo, disabled, how):
    """`<model>.enabled=false` in the chart: no upstream for it. nginx starts, has no proxy_pass
    to it, answers its routes with a JSON 404, and serves the other model (was: refused to start,
    or a route to a Service that never comes)."""
    enabled = "extractor" if disabled == "chatbot" else "chatbot"
    url, _ = nginx(
        **{
            f"{disabled.upper()}_UPSTREAM": "" if how == "empty" else None,
            f"{enabled.upper()}_UPSTREAM": f"127.0.0.1:{echo}",
        }
    )
    site = (tmp_path / "run" / "simplechat.conf").read_text()
    assert f"${disabled}_upstream" not in site and f"${enabled}_upstream" in site
    assert_ui_served(url)
    for method, path in ROUTES[disabled]:
        assert_json(call(url, method, path), 404, {"error": f"the {disabled} model is not deployed"})
    for method, path in ROUTES[enabled]:
        response = call(url, method, path)
        assert response.status_code == 200 and response.json() == {"path": path}, response.text
    assert_json(call(url, "GET", "/v1/models/no-such-model"), 404, {"error": "no such API route"})


def run_entrypoint(tmp_path: Path, resolv_conf: str) -> subprocess.CompletedProcess:
    """The entrypoint up to nginx (NGINX_BIN=true), with this resolv.conf."""
    (tmp_path / "resolv.conf").write_text(resolv_conf)
    env = entrypoint_env(
        tmp_path,
        NGINX_BIN="true",
        NGINX_RESOLV_CONF=str(tmp_path / "resolv.conf"),
        CHATBOT_UPSTREAM=f"{CHATBOT_NAME}:80",
        EXTRACTOR_UPSTREAM=f"{EXTRACTOR_NAME}:80",
    )
    return subprocess.run(
        [str(ROOT / "frontend" / "nginx-entrypoint.sh")], env=env, capture_output=True, text=True, timeout=30
    )


def test_the_resolver_comes_from_resolv_conf(tmp_path):
    """nginx ignores resolv.conf: the entrypoint copies the pod's DNS servers into `resolver`,
    IPv6 in brackets, a link-local one with a zone left out; valid= and resolver_timeout short."""
    install_system_deps("nginx", "envsubst")
    result = run_entrypoint(
        tmp_path,
        "# kubelet\nsearch simplechat.svc.cluster.local svc.cluster.local\n"
        "nameserver 10.96.0.10\nnameserver fd00:10:96::a\n"
        "nameserver fe80::1%eth0\noptions ndots:5\n",
    )
    assert result.returncode == 0, result.stderr
    site = (tmp_path / "run" / "simplechat.conf").read_text()
    assert "    resolver 10.96.0.10 [fd00:10:96::a] valid=10s;\n" in site
    assert "    resolver_timeout 5s;\n" in site
    checked = subprocess.run(
        [shutil.which("nginx") or NGINX, "-e", "stderr", "-t", "-q", "-c", str(tmp_path / "run" / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr


def test_no_nameserver_is_a_clear_error(tmp_path):
    result = run_entrypoint(tmp_path, "search cluster.local\noptions ndots:5\n")
    assert result.returncode != 0
    assert "no nameserver in" in result.stderr and "NGINX_RESOLVER" in result.stderr
