"""Shared fixtures: the built models and predictor processes on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
OUTPUT = ROOT / "test-output"  # screenshots and other artefacts a person may want to look at


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Predictor:
    """A predictor process started with `python -m predictors.<module>` on 127.0.0.1."""

    process: subprocess.Popen
    url: str
    name: str

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/v1/models/{self.name}", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout}s")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def assert_ready_answers_during(predictor: Predictor, send: Callable[[], int]) -> None:
    """Run `send()` (a long request; returns its status) on a thread and poll readiness meanwhile:
    readiness must answer fast the whole time, which a blocked event loop could not."""
    result: dict = {}

    def run() -> None:
        started = time.monotonic()
        result["status"] = send()
        result["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.3)  # let the request reach the model
    latencies = []
    while worker.is_alive():
        started = time.monotonic()
        assert httpx.get(f"{predictor.url}/v1/models/{predictor.name}", timeout=10).status_code == 200
        latencies.append(time.monotonic() - started)
        time.sleep(0.1)
    worker.join()
    assert result["status"] == 200
    assert latencies, "the request finished before any readiness check ran"
    assert result["seconds"] > 1.0  # long enough that a blocked loop would show
    assert max(latencies) < min(0.5, result["seconds"] / 2)


def start_predictor(module: str, name: str, model_dir: Path, *extra: str) -> Predictor:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            module,
            "--model_name",
            name,
            "--model_dir",
            str(model_dir),
            "--host",
            "127.0.0.1",
            "--http_port",
            str(port),
            *extra,
        ],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return Predictor(process, f"http://127.0.0.1:{port}", name)


def long_reply_arrivals(base_url: str, min_frames: int, seeds: int = 20) -> list[float]:
    """When each content frame of one streamed chat reply (OpenAI route under `base_url`) with at
    least `min_frames` of them arrived. A greedy reply's length is the trained model's choice, and
    a model trained on another CPU answers otherwise: seeded samples at a high temperature ramble,
    and the first one long enough is taken."""
    for seed in range(seeds):
        body = {
            "model": "chatbot",
            "messages": [{"role": "user", "content": "tell me a long story about your day"}],
            "temperature": 1.4,
            "seed": seed,
            "max_tokens": 150,
            "stream": True,
        }
        arrivals, last = [], ""
        with httpx.stream("POST", f"{base_url}/openai/v1/chat/completions", json=body, timeout=60) as response:
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    arrivals.append(time.monotonic())
                last = line or last
        assert last == "data: [DONE]"
        if len(arrivals) >= min_frames:
            return arrivals
    pytest.fail(f"no sampled reply of {min_frames} frames or more in {seeds} seeds")


def run_extractor_to_exit(model_dir: Path, *extra: str, timeout: float) -> subprocess.CompletedProcess:
    """`python -m predictors.extractor` on an ephemeral port, expected to stop by itself (a start-up
    that fails); its exit status and output."""
    command = [sys.executable, "-m", "predictors.extractor", "--model_dir", str(model_dir), *extra]
    command += ["--host", "127.0.0.1", "--http_port", "0"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)  # noqa: S603


def built_model(name: str) -> Path:
    path = MODELS / name
    if not (path / "config.json").exists():
        pytest.fail(f"{path} is missing: run `make models` (make test does it for you)")
    return path


@pytest.fixture(scope="session")
def extractor_dir() -> Path:
    return built_model("extractor")


@pytest.fixture(scope="session")
def chatbot_dir() -> Path:
    return built_model("chatbot")


def running(module: str, name: str, model_dir: Path) -> Iterator[Predictor]:
    yield from running_with(module, name, model_dir)


def running_with(module: str, name: str, model_dir: Path, *extra: str) -> Iterator[Predictor]:
    """A started predictor (extra flags passed on), ready, stopped afterwards."""
    predictor = start_predictor(module, name, model_dir, *extra)
    try:
        predictor.wait_ready()
        yield predictor
    finally:
        predictor.stop()


# One server per model for the whole session: the black-box tests share it (tests that need a
# process of their own — drain, overload limits, deadlines, crashes — start one).
@pytest.fixture(scope="session")
def extractor(extractor_dir: Path) -> Iterator[Predictor]:
    yield from running("predictors.extractor", "extractor", extractor_dir)


@pytest.fixture(scope="session")
def chatbot(chatbot_dir: Path) -> Iterator[Predictor]:
    yield from running("predictors.chatbot", "chatbot", chatbot_dir)


def running_stack(*extra: str) -> Iterator[str]:
    """`python -m predictors` (what `make run` starts; extra flags passed on): both models and the
    UI on one port, ready; its URL. Stopped afterwards, and it must stop cleanly."""
    port = free_port()
    command = [sys.executable, "-m", "predictors", "--models", str(MODELS), *extra]
    process = subprocess.Popen([*command, "--host", "127.0.0.1", "--http_port", str(port)], cwd=ROOT)
    extractor, chatbot = (Predictor(process, f"http://127.0.0.1:{port}", name) for name in ("extractor", "chatbot"))
    try:
        extractor.wait_ready()
        chatbot.wait_ready()
        yield extractor.url
    finally:
        assert extractor.stop() == 0  # Ctrl-C/SIGTERM stops it cleanly


@pytest.fixture(scope="session")
def stack(extractor_dir: Path, chatbot_dir: Path) -> Iterator[str]:
    """The local stack, shared by the session's black-box tests."""
    yield from running_stack()


def install_system_deps(*commands: str) -> None:
    """The tests drive Debian's nginx and chromium for real: install them when missing."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "install-system-deps.sh"), *commands], capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        pytest.fail(f"could not install {', '.join(commands)}: {result.stderr.strip()}")


def run_nginx_env() -> tuple[dict[str, str], str, int]:
    """scripts/run-nginx.sh's environment on free ports, nginx installed: (env, nginx's URL, chatbot port)."""
    install_system_deps("nginx", "envsubst")
    port, chatbot_port, extractor_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "CHATBOT_PORT": str(chatbot_port),
        "EXTRACTOR_PORT": str(extractor_port),
        "MODELS": str(MODELS),
        "PYTHON": sys.executable,
    }
    return env, f"http://127.0.0.1:{port}", chatbot_port


@pytest.fixture(scope="session")
def nginx_stack(extractor_dir: Path, chatbot_dir: Path) -> Iterator[str]:
    """`scripts/run-nginx.sh` (what `make run-nginx` starts): the standalone predictors behind real
    nginx with frontend/nginx.conf. Yields nginx's URL."""
    env, url, _ = run_nginx_env()
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "run-nginx.sh")], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        for line in process.stdout:  # the script's ready line comes once both models answer through nginx
            print(line, end="")
            if line.startswith("ready: UI and /api"):
                break
        else:
            pytest.fail(f"run-nginx.sh exited with {process.wait()} before it was ready")
        threading.Thread(target=lambda: [print(x, end="") for x in process.stdout], daemon=True).start()
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=30) == 0, "run-nginx.sh did not stop cleanly"
        except subprocess.TimeoutExpired:
            process.kill()
            raise
