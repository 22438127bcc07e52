"""checkov on the rendered manifests (the predictors' pod specs included) and shellcheck on every
shell script. Each checkov check we accept failing is listed here with the reason."""

from __future__ import annotations

import json
import os
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
    return [{"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": o["metadata"]["name"] + "-predictor", "namespace": "simplechat"},
             "spec": {k: v for k, v in o["spec"]["predictor"].items() if k not in kserve_only}}
            for o in objects if o["kind"] == "InferenceService"]


def test_checkov_finds_nothing_beyond_the_accepted_list(helm, tmp_path: Path):
    checkov = subprocess.run([str(ROOT / "scripts" / "get-checkov.sh")], capture_output=True, text=True,
                             env={**os.environ, "PYTHON": sys.executable}, timeout=900)
    assert checkov.returncode == 0, checkov.stderr
    objects = render(helm, "--skip-tests") + render(helm)[-1:]  # the test pod too
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(objects + predictor_pods(objects)))
    result = subprocess.run([checkov.stdout.strip(), "-f", str(manifest), "--framework", "kubernetes",
                             "--output", "json", "--skip-download"],
                            capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    assert report["summary"]["passed"] > 50  # it really scanned
    failed = {(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]}
    unexpected = sorted(f"{check} {resource}" for check, resource in failed if check not in ACCEPTED
                        and not (resource.endswith("-test-predictors") and check in ACCEPTED_FOR_TEST_POD))
    assert not unexpected, unexpected
    scanned_pods = {c["resource"] for c in report["results"]["passed_checks"] if c["resource"].startswith("Pod.")}
    assert {f"Pod.simplechat.simplechat-{name}-predictor" for name in ("chatbot", "extractor")} <= scanned_pods


def shell_scripts() -> list[Path]:
    return sorted([*(ROOT / "scripts").glob("*.sh"), *(ROOT / "frontend").glob("*.sh"), ROOT / ".ci" / "run"])


@pytest.mark.parametrize("script", shell_scripts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shellcheck(script: Path):
    install_system_deps("shellcheck")
    result = subprocess.run(["shellcheck", "--external-sources", str(script)], capture_output=True, text=True,
                            cwd=script.parent)
    assert result.returncode == 0, result.stdout
