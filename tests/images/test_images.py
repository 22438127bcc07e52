"""The images built and run for real (podman here, no Docker engine): both predictors' V1 and
seed routes, the extractor again on ONNX Runtime from an image without torch, the UI, and /api
proxied through the ui container to the predictor containers. Each container runs read-only and
as its image's non-root user. Sizes and times to ready are printed in the summary.

`make images-test` runs this module; `make test` does too, and it skips with the reason when
podman cannot run containers on the machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import ROOT, free_port, install_system_deps

pytestmark = pytest.mark.images

VERSION = "test"
NAMES = ("chatbot", "extractor", "extractor-onnx", "ui")
PREDICTORS = {"chatbot": "chatbot", "extractor": "extractor", "extractor-onnx": "extractor"}  # image -> model
ONNX_IMAGE_MAX_BYTES = 600_000_000
# Host network: containers bind loopback only and reach each other there. The rlimits: this
# sandbox refuses runc's defaults.
RUN_FLAGS = ("--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
report: list[str] = []  # sizes and times to ready: conftest prints them in the summary


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["podman", "--runtime", "runc", *args], capture_output=True, text=True, check=check, timeout=timeout
    )


def podman_problem() -> str | None:
    """Why podman cannot build and run containers here, or None."""
    try:
        install_system_deps("podman", "runc", "debootstrap")
    except pytest.fail.Exception as exc:
        return str(exc)
    if os.geteuid() != 0:
        return "the local base images need debootstrap, which needs root"
    probe = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False)
    if probe.returncode != 0:
        return f"podman info failed: {probe.stderr.strip()[:300]}"
    return None


@pytest.fixture(scope="module")
def images() -> Iterator[dict[str, str]]:
    problem = podman_problem()
    if problem:
        pytest.skip(f"podman is not usable here: {problem}")
    if not all((ROOT / "models" / name / "config.json").exists() for name in ("chatbot", "extractor")):
        pytest.fail("models/ is missing: run `make models` (make images-test does it for you)")
    build = subprocess.run(
        [str(ROOT / "scripts" / "build-images.sh"), "--local", "--models", "copy"],
        capture_output=True,
        text=True,
        env={**os.environ, "VERSION": VERSION},
        timeout=3000,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    report.extend(line for line in build.stdout.splitlines() if line.startswith(("  simplechat-", "built ")))
    yield {name: f"localhost/simplechat-{name}:{VERSION}" for name in NAMES}


@dataclass
class Container:
    name: str
    url: str
    seconds_to_ready: float


def run_container(
    image: str, ready_path: str, env: dict[str, str] | None = None, *args: str, port: int | None = None
) -> Container:
    """`podman run` read-only on the host network (so it binds loopback only); waits for ready_path."""
    name = f"simplechat-test-{uuid.uuid4().hex[:8]}"
    env_flags = [flag for key, value in (env or {}).items() for flag in ("-e", f"{key}={value}")]
    started = time.monotonic()
    podman("run", "-d", "--rm", "--name", name, "--read-only", *RUN_FLAGS, *env_flags, image, *args)
    url = f"http://127.0.0.1:{port}"
    deadline = started + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + ready_path, timeout=2).status_code == 200:
                return Container(name, url, time.monotonic() - started)
        except httpx.TransportError:
            pass
        if podman("container", "exists", name, check=False).returncode != 0:
            break
        time.sleep(0.3)
    logs = podman("logs", name, check=False).stderr[-3000:]
    podman("rm", "-f", name, check=False)
    raise AssertionError(f"{image} not ready on {url}{ready_path}: {logs}")


def run_predictor(images: dict[str, str], name: str) -> Container:
    port = free_port()
    # The torch image would serve the ONNX export by default: it is the torch reference here.
    runtime = ("--runtime", "torch") if name == "extractor" else ()
    return run_container(
        images[name],
        f"/v1/models/{PREDICTORS[name]}",
        None,
        "--host",
        "127.0.0.1",
        "--http_port",
        str(port),
        *runtime,
        port=port,
    )


# Times to ready swing on a shared machine (one start each: 1.7 and 2.5 s for the ONNX image, 3.2
# and 4.1 s for the torch one, in two runs of a day): the two extractors' are medians of 3 starts.
TIMED_STARTS = {"extractor": 3, "extractor-onnx": 3}


@pytest.fixture(scope="module")
def containers(images) -> Iterator[dict[str, Container]]:
    running: dict[str, Container] = {}
    try:
        for name in PREDICTORS:
            running[name] = run_predictor(images, name)
        ready = {name: [c.seconds_to_ready] for name, c in running.items()}
        for name, starts in TIMED_STARTS.items():
            for _ in range(starts - 1):
                again = run_predictor(images, name)
                podman("stop", "-t", "10", again.name, check=False)
                ready[name].append(again.seconds_to_ready)
        port = free_port()
        running["ui"] = run_container(
            images["ui"],
            "/healthz",
            {
                "NGINX_LISTEN": f"127.0.0.1:{port}",
                "CHATBOT_UPSTREAM": running["chatbot"].url.removeprefix("http://"),
                "EXTRACTOR_UPSTREAM": running["extractor"].url.removeprefix("http://"),
                "TRUSTED_PROXY_CIDR": "127.0.0.1/32",
            },
            port=port,
        )
        ready["ui"] = [running["ui"].seconds_to_ready]
        for name, seconds in ready.items():
            spread = f"   (median of {len(seconds)}: {', '.join(f'{x:.1f}' for x in sorted(seconds))})"
            line = f"  {name:<14} ready in {statistics.median(seconds):5.1f} s"
            report.append(line + (spread if seconds[1:] else ""))
        ratio = statistics.median(ready["extractor-onnx"]) / statistics.median(ready["extractor"])
        report.append(f"  extractor-onnx / extractor time to ready: {ratio:.2f} (target: at most 0.5)")
        yield running
    finally:
        for container in running.values():
            podman("stop", "-t", "10", container.name, check=False)


def test_images_run_as_non_root_with_a_read_only_root(containers):
    for name, container in containers.items():
        uid = podman("exec", container.name, "id", "-u").stdout.strip()
        assert uid != "0", f"{name} runs as root"
        write = podman("exec", container.name, "touch", "/usr/probe", check=False)
        assert write.returncode != 0 and "Read-only file system" in write.stderr, f"{name}: {write.stderr}"
        scratch = podman("exec", container.name, "touch", "/tmp/probe", check=False)  # noqa: S108 - the container's /tmp
        assert scratch.returncode == 0, f"{name}: /tmp is not writable: {scratch.stderr}"


def test_predictor_images_have_no_compiler(images):
    for name in PREDICTORS:
        found = podman(
            "run", "--rm", *RUN_FLAGS, "--entrypoint", "sh", images[name], "-c", "command -v gcc cc g++ || true"
        ).stdout.strip()
        assert found == "", f"{name} image ships a compiler: {found}"


def test_chatbot_container(containers):
    url = containers["chatbot"].url
    reply = httpx.post(f"{url}/v1/models/chatbot:predict", json={"instances": [{"message": "hi"}]}, timeout=60)
    assert reply.status_code == 200 and reply.json()["predictions"][0]["response"].strip()
    seed = httpx.post(f"{url}/chat", json={"message": "hi"}, timeout=60)
    assert seed.status_code == 200 and seed.json()["history"][0] == "hi"


def test_extractor_container(containers):
    url = containers["extractor"].url
    text = "This fall I am taking Introduction to Artificial Intelligence and Linear Algebra."
    response = httpx.post(
        f"{url}/v1/models/extractor:predict", content=f'{{"instances":[{{"text":"{text}"}}]}}', timeout=60
    )
    courses = response.json()["predictions"][0]["courses"]
    assert [(c["text"], c["start"], c["end"]) for c in courses] == [
        ("Introduction to Artificial Intelligence", 22, 61),
        ("Linear Algebra", 66, 80),
    ]
    seed = httpx.post(f"{url}/extract-course-name/", json={"text": "I am taking Linear Algebra"}, timeout=60)
    assert seed.json() == {"extracted_course_names": ["Linear Algebra"]}


def test_onnx_extractor_image_has_no_torch_and_answers_as_the_torch_one(images, containers):
    found = podman(
        "run",
        "--rm",
        *RUN_FLAGS,
        "--entrypoint",
        "python",
        images["extractor-onnx"],
        "-c",
        "import importlib.util as u; print([m for m in ('torch', 'transformers', 'safetensors') if u.find_spec(m)])",
    ).stdout.strip()
    assert found == "[]", f"the ONNX image holds {found}"
    size = int(podman("image", "inspect", "--format", "{{.Size}}", images["extractor-onnx"]).stdout)
    assert size <= ONNX_IMAGE_MAX_BYTES, f"{size / 1e6:.0f} MB"
    texts = [
        "This fall I am taking Introduction to Artificial Intelligence and Linear Algebra.",
        "Dropped CS 61A, kept Organic Chemistry II and the econ seminar.",
        "The dining hall is closed on Sunday.",
    ]

    def spans(name: str) -> list[list[tuple]]:
        url = f"{containers[name].url}/v1/models/extractor:predict"
        predictions = httpx.post(url, json={"instances": texts}, timeout=60).json()["predictions"]
        return [[(c["text"], c["start"], c["end"]) for c in p["courses"]] for p in predictions]

    onnx = spans("extractor-onnx")
    assert onnx == spans("extractor")
    assert onnx[0] == [("Introduction to Artificial Intelligence", 22, 61), ("Linear Algebra", 66, 80)]
    # V2 and the seed route too: the packages taken out of this image are never needed
    url = containers["extractor-onnx"].url
    v2 = {"id": "1", "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [texts[0]]}]}
    answer = httpx.post(f"{url}/v2/models/extractor/infer", json=v2, timeout=60)
    assert answer.status_code == 200 and "Linear Algebra" in answer.json()["outputs"][0]["data"][0]
    seed = httpx.post(f"{url}/extract-course-name/", json={"text": "I am taking Linear Algebra"}, timeout=60)
    assert seed.json() == {"extracted_course_names": ["Linear Algebra"]}


def test_ui_container_serves_the_page_and_proxies_api(containers):
    url = containers["ui"].url
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and page.text == (ROOT / "frontend" / "index.html").read_text(encoding="utf-8")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    body = b'{"instances":["I loved Organic Chemistry"]}'
    courses = httpx.post(f"{url}/api/v1/models/extractor:predict", content=body, timeout=60).json()["predictions"][0][
        "courses"
    ]
    assert [c["text"] for c in courses] == ["Organic Chemistry"]
    chat = httpx.post(f"{url}/api/chat", json={"message": "hi"}, timeout=60)
    assert chat.status_code == 200 and chat.json()["response"].strip()
    assert httpx.get(f"{url}/api/health").json() == {"status": "healthy"}


def test_ray_image_holds_ray_the_code_and_both_models(images):
    """The KubeRay image (manifests/ray/rayservice.yaml): built here too, checked without a cluster."""
    build = subprocess.run(
        [str(ROOT / "scripts" / "build-images.sh"), "--local", "--models", "copy"],
        capture_output=True,
        text=True,
        timeout=3000,
        env={**os.environ, "VERSION": VERSION, "TARGETS": "ray"},
    )
    assert build.returncode == 0, build.stderr[-4000:]
    report.extend(line for line in build.stdout.splitlines() if line.startswith(("  simplechat-", "built ")))
    check = (
        "import ray, ray.serve; from predictors import ray_app; "
        "from predictors.common.model_dir import check_model_dir; "
        "[check_model_dir(f'/models/{m}') for m in ('chatbot', 'extractor')]; print(ray.__version__)"
    )
    result = podman(
        "run",
        "--rm",
        "--read-only",
        *RUN_FLAGS,
        "--entrypoint",
        "python",
        f"localhost/simplechat-ray:{VERSION}",
        "-c",
        check,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().startswith("2.")
