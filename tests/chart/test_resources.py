"""CPU and memory of every container the chart renders, after KServe's defaulting webhook.

KServe (pkg/apis/serving/v1beta1/inference_service_defaults.go, setResourceRequirementDefaults)
fills each missing request and each missing limit of a predictor container from the
`inferenceservice-config` ConfigMap's `resource` key: 1 CPU and 2Gi by default. A chart that
sets `requests.cpu: 2` and no CPU limit gets `limits.cpu: 1` and an invalid Deployment; one
that sets no CPU limit is throttled to one core. `apply_kserve_defaults` is that rule.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.chart.conftest import CHART, SCENARIOS, of_kind, render

KSERVE_DEFAULTS = {"cpu": "1", "memory": "2Gi"}  # inferenceService.resource in KServe's ConfigMap
UNITS = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "m": 10**-3,
}

# Value sets a user would plausibly pass, beside the ci/ scenarios.
VALUE_SETS = [
    [],
    *[["-f", str(CHART / "ci" / scenario)] for scenario in SCENARIOS],
    ["--set", "chatbot.resources.requests.cpu=2", "--set", "chatbot.resources.limits.cpu=4"],
    ["--set", "extractor.resources.requests.memory=2Gi", "--set", "extractor.resources.limits.memory=3Gi"],
    ["--set", "chatbot.resources.requests.cpu=1500m", "--set", "chatbot.resources.limits.cpu=1.5"],
]


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity as a number (cores or bytes)."""
    text = str(value)
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", text)
    assert match, f"not a quantity: {text!r}"
    number, unit = match.groups()
    return float(number) * UNITS.get(unit, 1) if unit else float(number)


def apply_kserve_defaults(resources: dict) -> dict:
    requests = dict(resources.get("requests") or {})
    limits = dict(resources.get("limits") or {})
    for key, default in KSERVE_DEFAULTS.items():
        requests.setdefault(key, default)
        limits.setdefault(key, default)
    return {"requests": requests, "limits": limits}


def containers(objects: list[dict]) -> list[tuple[str, dict, bool]]:
    """(owner/container, container, owned by KServe's webhook) for every container rendered."""
    pods = {
        "InferenceService": lambda o: o["spec"]["predictor"],
        "Pod": lambda o: o["spec"],
        "Deployment": lambda o: o["spec"]["template"]["spec"],
    }
    found = []
    for obj in objects:
        if obj["kind"] in pods:
            found += [
                (f"{obj['metadata']['name']}/{c['name']}", c, obj["kind"] == "InferenceService")
                for c in pods[obj["kind"]](obj)["containers"]
            ]
    return found


def test_the_defaulting_rule_is_kserves():
    """The rule itself: only missing keys are filled, in requests and limits alike."""
    assert apply_kserve_defaults({"requests": {"cpu": "2"}, "limits": {"memory": "4Gi"}}) == {
        "requests": {"cpu": "2", "memory": "2Gi"},
        "limits": {"cpu": "1", "memory": "4Gi"},
    }
    # What the chart rendered before: a CPU request of 2 meets KServe's limit of 1.
    before = apply_kserve_defaults({"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"memory": "4Gi"}})
    assert quantity(before["requests"]["cpu"]) > quantity(before["limits"]["cpu"])


@pytest.mark.parametrize("values", VALUE_SETS, ids=lambda v: " ".join(v) or "defaults")
def test_requests_fit_the_limits_after_kserve_defaulting(helm, values):
    objects = render(helm, *values)
    found = containers(objects)
    assert len([c for c in found if c[2]]) == 2  # both predictors
    for name, container, kserve in found:
        resources = container.get("resources") or {}
        # Every container states its own CPU and memory limits: KServe fills nothing in.
        assert {"cpu", "memory"} <= set(resources.get("limits") or {}), f"{name}: no explicit CPU/memory limit"
        effective = apply_kserve_defaults(resources) if kserve else resources
        assert effective["limits"] == {**resources["limits"]}, f"{name}: KServe would change its limits"
        for key in ("cpu", "memory"):
            request, limit = effective["requests"][key], effective["limits"][key]
            assert quantity(request) <= quantity(limit), f"{name}: requests.{key} {request} > limits.{key} {limit}"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["--set", "chatbot.resources.requests.cpu=3"], "chatbot.resources: requests.cpu (3) exceeds limits.cpu (2)"),
        (["--set", "extractor.resources.requests.memory=3Gi"], "requests.memory (3Gi) exceeds limits.memory (2Gi)"),
        (["--set", "chatbot.resources.limits.cpu=null"], "missing property 'cpu'"),
        (["--set", "ui.resources.limits.memory=null"], "missing property 'memory'"),
    ],
)
def test_the_chart_refuses_requests_above_limits_and_missing_limits(helm, values, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        render(helm, *values)


@pytest.mark.parametrize("values", VALUE_SETS, ids=lambda v: " ".join(v) or "defaults")
def test_torch_threads_come_from_the_cpu_limit(helm, values):
    for name, isvc in of_kind(render(helm, *values), "InferenceService").items():
        container = isvc["spec"]["predictor"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        assert env["OMP_NUM_THREADS"]["valueFrom"]["resourceFieldRef"] == {
            "containerName": container["name"],
            "resource": "limits.cpu",
            "divisor": "1",
        }, name


@pytest.mark.parametrize("threads", ["1", "2"])
def test_torch_takes_its_thread_count_from_omp_num_threads(threads):
    """The mechanism the chart relies on: the downward API sets OMP_NUM_THREADS to the CPU limit
    (rounded up) and torch sizes its intra-op pool from it."""
    result = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": threads},
    )
    assert result.stdout.strip() == threads
