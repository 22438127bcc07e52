"""checkov on the rendered manifests (the predictors' pod specs included) and shellcheck on every
shell script. Each checkov check we accept failing is listed here with the reason."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.chart.conftest import render
from tests.conftest import ROOT, install_system_deps

ACCEPTED = {
    "CKV_K8S_21": "no namespace in the manifests: it is chosen at install time (helm -n, kubectl apply -n)",
    "CKV_K8S_43": "images by tag, not digest: the release sets the tag; pin digests in your own values",
    "CKV_K8S_15": "pullPolicy IfNotPresent: images `kind load`ed into a cluster must not be pulled",
    "CKV_K8S_11": "no CPU limits on purpose: CFS throttling stalls inference; CPU requests are set",
}
# The `helm test` pod runs once, makes outbound calls only and is deleted before the next run.
ACCEPTED_FOR_TEST_POD = {
    "CKV_K8S_8": "a one-shot test pod has no liveness to probe",
    "CKV_K8S_9": "a one-shot test pod has no readiness to probe",
    "CKV2_K8S_6": "the test pod accepts no traffic, so no NetworkPolicy selects it",
}


def predictor_pods(objects: list[dict]) -> list[dict]:
    """What KServe makes of each InferenceService's predictor, as a Pod checkov understands."""
    kserve_only = {"minReplicas", "maxReplicas", "scaleMetric", "scaleTarget", "labels", "annotations"}
    return [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": o["metadata"]["name"] + "-predictor", "namespace": "simplechat"},
            "spec": {k: v for k, v in o["spec"]["predictor"].items() if k not in kserve_only},
        }
        for o in objects
        if o["kind"] == "InferenceService"
    ]


def test_checkov_finds_nothing_beyond_the_accepted_list(helm, tmp_path: Path):
    checkov = subprocess.run(
        [str(ROOT / "scripts" / "get-checkov.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=900,
    )
    assert checkov.returncode == 0, checkov.stderr
    objects = render(helm, "--skip-tests") + render(helm)[-1:]  # the test pod too
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(objects + predictor_pods(objects)))
    result = subprocess.run(
        [
            checkov.stdout.strip(),
            "-f",
            str(manifest),
            "--framework",
            "kubernetes",
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    assert report["summary"]["passed"] > 50  # it really scanned
    failed = {(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]}
    unexpected = sorted(
        f"{check} {resource}"
        for check, resource in failed
        if check not in ACCEPTED and not (resource.endswith("-test-predictors") and check in ACCEPTED_FOR_TEST_POD)
    )
    assert not unexpected, unexpected
    scanned_pods = {c["resource"] for c in report["results"]["passed_checks"] if c["resource"].startswith("Pod.")}
    assert {f"Pod.simplechat.simplechat-{name}-predictor" for name in ("chatbot", "extractor")} <= scanned_pods


def shell_scripts() -> list[Path]:
    return sorted([*(ROOT / "scripts").glob("*.sh"), *(ROOT / "frontend").glob("*.sh"), ROOT / ".ci" / "run"])


@pytest.mark.system
@pytest.mark.parametrize("script", shell_scripts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shellcheck(script: Path):
    install_system_deps("shellcheck")
    result = subprocess.run(
        ["shellcheck", "--external-sources", str(script)], capture_output=True, text=True, cwd=script.parent
    )
    assert result.returncode == 0, result.stdout


# ---------------------------------------------------------------- the images, without building them
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def stage(name: str) -> str:
    """The Dockerfile stage `name`, continuation lines joined."""
    body = re.split(rf"^FROM \S+ AS {name}\n", DOCKERFILE, flags=re.MULTILINE)[1]
    return re.split(r"^FROM ", body, flags=re.MULTILINE)[0].replace("\\\n", "")


def build_commands(*args: str, **env: str) -> list[list[str]]:
    result = subprocess.run(
        [str(ROOT / "scripts" / "build-images.sh"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "ENGINE": "docker", **env},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines() if line.startswith("docker build ")]


def build_arg(command: list[str], name: str) -> str | None:
    values = [
        command[i + 1].split("=", 1)[1]
        for i, word in enumerate(command)
        if word == "--build-arg" and command[i + 1].startswith(f"{name}=")
    ]
    return values[-1] if values else None


def test_build_images_cuda_builds_the_predictors_on_cuda_torch_tagged_cuda():
    """`--cuda --dry-run` prints, and runs nothing: CUDA torch's index and <version>-cuda tags for
    the two torch images; without --cuda, the Dockerfile's CPU default and the plain tags."""
    cuda = build_commands("--cuda", "--dry-run")
    assert [c[c.index("-t") + 1] for c in cuda] == ["simplechat-chatbot:0.1.0-cuda", "simplechat-extractor:0.1.0-cuda"]
    for command in cuda:
        assert re.fullmatch(r"https://download\.pytorch\.org/whl/cu1\d\d", build_arg(command, "TORCH_INDEX_URL"))
    cpu = build_commands("--dry-run")
    targets = ("chatbot", "extractor", "extractor-onnx", "ui")
    assert [c[c.index("-t") + 1] for c in cpu] == [f"simplechat-{t}:0.1.0" for t in targets]
    assert all(build_arg(c, "TORCH_INDEX_URL") is None for c in cpu)
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu\n" in DOCKERFILE
    # The RayService runs the image this builds.
    (ray,) = build_commands("--cuda", "--dry-run", TARGETS="ray")
    rayservice = (ROOT / "manifests" / "ray" / "rayservice.yaml").read_text(encoding="utf-8")
    assert f"image: ghcr.io/simplechat/{ray[ray.index('-t') + 1]}\n" in rayservice  # as pushed there
    for target in ("ui", "extractor-onnx"):  # no torch in them: a --cuda build of one is refused
        refused = subprocess.run(
            [str(ROOT / "scripts" / "build-images.sh"), "--cuda", "--dry-run"],
            capture_output=True,
            text=True,
            env={**os.environ, "ENGINE": "docker", "TARGETS": target},
            timeout=60,
        )
        assert refused.returncode != 0 and f"the {target} image has no torch" in refused.stderr


def test_a_cuda_build_refuses_a_cpu_only_torch():
    """The builder's own check, run here on this venv's torch: a CUDA index must yield CUDA torch."""
    import torch

    if torch.version.cuda is not None:
        pytest.skip("this torch is a CUDA build: the check has nothing to refuse")
    (install,) = [
        line for line in stage("builder").splitlines() if line.startswith("RUN pip install") and "TORCH_SPEC" in line
    ]
    check = install.split(" && ", 1)[1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for index, refused in [
        ("https://download.pytorch.org/whl/cu130", True),
        ("https://download.pytorch.org/whl/cpu", False),
        ("", False),
    ]:
        result = subprocess.run(
            ["sh", "-c", check], capture_output=True, text=True, timeout=120, env={**env, "TORCH_INDEX_URL": index}
        )
        assert (result.returncode != 0) == refused, (index, result.stderr)
        assert not refused or "has no CUDA" in result.stderr


def test_ray_image_has_wget_for_kuberay_probes():
    """KubeRay's exec probes run `wget … | grep success`; python's slim base has no wget."""
    assert re.search(
        r"^RUN apt-get update && apt-get install -y --no-install-recommends .*\bwget\b",
        stage("ray"),
        flags=re.MULTILINE,
    )


def test_ray_image_login_shell_finds_the_venv(tmp_path: Path):
    """KubeRay < 1.4 starts Ray with `bash -lc`: /etc/profile resets PATH. The ray stage's own RUN
    line is run in a mount namespace (this host's /etc/profile is Debian's, as in the image's
    python:*-bookworm base; /opt/venv is this venv), then a login shell must find ray and python."""
    profile = Path("/etc/profile").read_text(encoding="utf-8") if Path("/etc/profile").exists() else ""
    if os.geteuid() != 0 or not shutil.which("unshare") or "/etc/profile.d/*.sh" not in profile:
        pytest.skip("needs root, unshare and a Debian /etc/profile")
    runs = [line[4:] for line in stage("ray").splitlines() if line.startswith("RUN ") and "/etc/profile.d/" in line]
    assert len(runs) == 1, "the ray stage puts nothing (or more than one RUN) in /etc/profile.d"
    (run,) = runs
    image_path = "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # the image's ENV
    login = f'env -i HOME="$T/home" PATH={image_path} bash -lc'
    script = f"""set -eu
mount -t tmpfs tmpfs /opt  # this namespace only: /opt holds just the venv, as in the image
mkdir /opt/venv && mount --bind "$VENV" /opt/venv
mkdir "$T/home" && cp -a /etc/profile.d "$T/profile.d" && mount --bind "$T/profile.d" /etc/profile.d
echo "before: $({login} 'command -v ray' || true)"
sh -c "$RUN"
{login} 'echo "after: $(command -v ray) $(command -v python)"; ray --version'
"""
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "T": str(tmp_path), "RUN": run, "VENV": sys.prefix},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "before: ", lines  # the harness reproduces the lost PATH
    assert lines[1] == "after: /opt/venv/bin/ray /opt/venv/bin/python", lines
    assert "ray, version 2." in lines[2], lines


def workflows() -> list[Path]:
    return sorted((ROOT / ".github" / "workflows").glob("*.yaml"))


@pytest.mark.parametrize("workflow", workflows(), ids=lambda p: p.name)
def test_workflow_token_is_read_only_and_every_job_has_a_timeout(workflow: Path):
    spec = yaml.safe_load(workflow.read_text())
    assert spec["permissions"] == {"contents": "read"}
    for name, job in spec["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"job {name} has no timeout-minutes"


@pytest.mark.system
@pytest.mark.parametrize("workflow", workflows(), ids=lambda p: p.name)
def test_shellcheck_on_workflow_steps(workflow: Path, tmp_path: Path):
    """Each `run:` as GitHub runs it (bash -e), its ${{ }} expressions replaced by a plain word."""
    install_system_deps("shellcheck")
    steps = [
        step for job in yaml.safe_load(workflow.read_text())["jobs"].values() for step in job["steps"] if "run" in step
    ]
    assert steps
    for number, step in enumerate(steps):
        script = tmp_path / f"step{number}.sh"
        script.write_text("#!/usr/bin/env bash\nset -e\n" + re.sub(r"\$\{\{.*?\}\}", "expr", step["run"]))
        result = subprocess.run(
            ["shellcheck", "--external-sources", str(script)], capture_output=True, text=True, cwd=ROOT
        )
        assert result.returncode == 0, f"{step.get('name', step['run'])}:\n{result.stdout}"
