"""One server subprocess at a time: start it in its own process group, wait for readiness, always stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

STOP_GRACE_S = 60.0  # Ray's node can take a while to go down after SIGTERM
LOG_TAIL_CHARS = 600


class ServerFailed(RuntimeError):
    """The server exited or never became ready; the message ends with its log's last lines."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(log: Path) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    lines = [line for line in text[-LOG_TAIL_CHARS:].splitlines() if line.strip()]
    return " | ".join(lines[-3:])


def wait_ready(process: subprocess.Popen, url: str, timeout: float, log: Path) -> float:
    """Seconds until GET `url` answers 200; ServerFailed if the process dies or time runs out."""
    started = time.monotonic()
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() - started < timeout:
            if process.poll() is not None:
                raise ServerFailed(f"exited with code {process.returncode}: {log_tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.5)
    raise ServerFailed(f"not ready after {timeout:.0f} s: {log_tail(log)}")


def stop(process: subprocess.Popen, grace: float = STOP_GRACE_S) -> None:
    """SIGTERM to the server's process group, then SIGKILL to the group if it is still up after `grace`."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the leader is not reaped yet: the group is still ours
        process.wait()


@contextlib.contextmanager
def running(command: Sequence[str], log: Path, cwd: Path, env: dict | None = None) -> Iterator[subprocess.Popen]:
    """The started process (its own session, output to `log`), stopped on the way out whatever happens."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            list(command),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            stop(process)
