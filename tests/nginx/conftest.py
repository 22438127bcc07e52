"""nginx started the way the ui image starts it: its entrypoint, with this machine's paths."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port, install_system_deps

NGINX = "/usr/sbin/nginx"


def entrypoint_env(tmp_path: Path, **values: str | None) -> dict[str, str]:
    """The entrypoint's environment for this machine; a value of None unsets the variable."""
    env = {
        **os.environ,
        "NGINX_BIN": shutil.which("nginx") or NGINX,
        "NGINX_LISTEN": f"127.0.0.1:{free_port()}",
        "UI_ROOT": str(ROOT / "frontend"),
        "TRUSTED_PROXY_CIDR": "127.0.0.1/32",
        "NGINX_TEMPLATE": str(ROOT / "frontend" / "nginx.conf"),
        "NGINX_RUN_DIR": str(tmp_path / "run"),
        "NGINX_MIME_TYPES": "/etc/nginx/mime.types",
        "NGINX_ACCESS_LOG": "off",
    }
    for name in ("CHATBOT_UPSTREAM", "EXTRACTOR_UPSTREAM", "NGINX_RESOLVER", "NGINX_RESOLV_CONF"):
        env.pop(name, None)
    env.update({k: v for k, v in values.items() if v is not None})
    return env


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Callable[..., tuple[str, Path]]]:
    """Start nginx through the entrypoint with these variables; yields start(**env) -> (url, log)."""
    install_system_deps("nginx", "envsubst")
    processes: list[subprocess.Popen] = []

    def start(**values: str | None) -> tuple[str, Path]:
        env = entrypoint_env(tmp_path, **values)
        log = tmp_path / "nginx.log"
        with log.open("w") as stderr:
            processes.append(
                subprocess.Popen(
                    [str(ROOT / "frontend" / "nginx-entrypoint.sh")], env=env, stdout=subprocess.DEVNULL, stderr=stderr
                )
            )
        url = f"http://{env['NGINX_LISTEN']}"
        deadline = time.monotonic() + 30
        while True:
            assert processes[-1].poll() is None, f"nginx exited: {log.read_text()}"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    return url, log
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"nginx not up after 30 s: {log.read_text()}"
            time.sleep(0.1)

    try:
        yield start
    finally:
        for process in processes:  # the entrypoint execs nginx: this is the master
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
