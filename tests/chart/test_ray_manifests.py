"""manifests/ray/ and predictors/ray_serve.yaml: the KubeRay RayService and the `serve run` config
point at code and paths that exist, fit the CPUs and GPUs Ray will see, put GPU replicas on a CUDA
image, let Ray's pods reach each other, and keep Ray's dashboard away from everyone but the
operator."""

from __future__ import annotations

import math
import re

import kubernetes_validate
import pytest
import yaml

from tests.conftest import ROOT

pytest.importorskip("ray.serve", reason="Ray Serve is not installed (pip install 'ray[serve]')")

RAY = ROOT / "manifests" / "ray"
MANIFEST = (RAY / "rayservice.yaml").read_text(encoding="utf-8")
SERVE_RUN = ROOT / "predictors" / "ray_serve.yaml"
OBJECTS = list(yaml.safe_load_all(MANIFEST))
SERVICE = next(o for o in OBJECTS if o["kind"] == "RayService")
POLICIES = {o["metadata"]["name"]: o for o in OBJECTS if o["kind"] == "NetworkPolicy"}
CLUSTER = SERVICE["spec"]["rayClusterConfig"]
HEAD = CLUSTER["headGroupSpec"]
OPERATOR_NAMESPACE = "kuberay-system"  # the manifest's default for the KUBERAY_NAMESPACE parameter


def applications(config: dict) -> dict[str, dict]:
    return {app["name"]: app for app in config["applications"]}


APPS = applications(yaml.safe_load(SERVICE["spec"]["serveConfigV2"]))


@pytest.mark.parametrize(
    "config",
    [
        yaml.safe_load(SERVICE["spec"]["serveConfigV2"]),
        yaml.safe_load(SERVE_RUN.read_text(encoding="utf-8")),
    ],
    ids=["rayservice", "serve-run"],
)
def test_serve_configs_build_both_applications(config):
    from predictors import ray_app

    apps = applications(config)
    assert set(apps) == {"extractor", "chatbot"}
    for name, app in apps.items():
        module, attribute = app["import_path"].split(":")
        assert module == "predictors.ray_app" and attribute == "build_app"
        assert app["args"]["kind"] == name
        assert ray_app.build_app(app["args"]) is not None  # binds the deployment; starts nothing
        assert [d["name"] for d in app["deployments"]] == ["PredictorDeployment"]


def test_serve_run_listens_on_localhost_only():
    config = yaml.safe_load(SERVE_RUN.read_text(encoding="utf-8"))
    assert config["http_options"]["host"] == "127.0.0.1"


def test_rayservice_uses_the_image_paths_and_fractional_gpus():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    ray_stage = dockerfile.split("AS ray\n", 1)[1].split("\nFROM ", 1)[0]
    for app in APPS.values():
        assert f"/mnt/models {app['args']['model_dir']}" in ray_stage
    gpus = APPS["chatbot"]["deployments"][0]["ray_actor_options"]["num_gpus"]
    assert 0 < gpus < 1
    assert re.search(r"^FROM \S+ AS ray$", dockerfile, flags=re.MULTILINE)


def containers() -> list[dict]:
    return [c for group in [HEAD, *CLUSTER["workerGroupSpecs"]] for c in group["template"]["spec"]["containers"]]


def test_gpu_replicas_run_on_the_cuda_image_and_never_fall_back_to_cpu():
    """`device: auto` on a CPU torch runs a GPU replica on CPU without a word: a replica that asks
    for a GPU says cuda (it fails at start without one) and the image is the -cuda build; one that
    asks for none says cpu (Ray would still let it see the worker's GPU)."""
    assert {c["image"] for c in containers()} == {"ghcr.io/simplechat/simplechat-ray:0.1.0-cuda"}
    for name, app in APPS.items():
        for deployment in app["deployments"]:
            wants_gpu = deployment.get("ray_actor_options", {}).get("num_gpus", 0) > 0
            assert app["args"]["device"] == ("cuda" if wants_gpu else "cpu"), name


def cpus(quantity: str | int | float) -> float:
    """A Kubernetes CPU quantity ("500m", "4", 2) in CPUs."""
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def ray_cpus(group: dict) -> float:
    """The CPUs Ray schedules against on one pod of a group, as KubeRay derives them: rayStartParams
    num-cpus, else the container's CPU limit rounded up; KubeRay >= 1.3 then takes the request,
    older versions let Ray count the node's CPUs, so the manifest must not rely on either."""
    params = group.get("rayStartParams") or {}
    if "num-cpus" in params:
        return float(params["num-cpus"])
    limits = group["template"]["spec"]["containers"][0].get("resources", {}).get("limits", {})
    if "cpu" in limits:
        return math.ceil(cpus(limits["cpu"]))
    pytest.fail(
        f"group {group.get('groupName', 'head')}: no num-cpus and no CPU limit, so what Ray "
        "sees depends on the KubeRay version (the request from 1.3, the node's CPUs before)"
    )


def ray_gpus(group: dict) -> float:
    params = group.get("rayStartParams") or {}
    if "num-gpus" in params:
        return float(params["num-gpus"])
    limits = group["template"]["spec"]["containers"][0].get("resources", {}).get("limits", {})
    return float(limits.get("nvidia.com/gpu", 0))


def pods(group: dict) -> int:
    """Worker pods Ray can count on: maxReplicas with the autoscaler, else `replicas`."""
    if CLUSTER.get("enableInTreeAutoscaling"):
        return group["maxReplicas"]
    return min(max(group.get("replicas", 1), group.get("minReplicas", 0)), group.get("maxReplicas", 2**31))


def replicas(deployment: dict) -> int:
    autoscaling = deployment.get("autoscaling_config")
    if autoscaling:
        return autoscaling["max_replicas"]
    count = deployment.get("num_replicas", 1)
    assert isinstance(count, int), f"num_replicas {count!r}: give a number or an autoscaling_config"
    return count


def demand(resource: str, default: float) -> float:
    return sum(
        replicas(d) * d.get("ray_actor_options", {}).get(resource, default)
        for app in APPS.values()
        for d in app["deployments"]
    )


def test_replicas_fit_the_cpus_and_gpus_ray_sees():
    """Serve replicas that do not fit stay PENDING and the RayService never gets RUNNING."""
    assert HEAD["rayStartParams"]["num-cpus"] == "0"  # the head keeps its CPU for GCS, dashboard, controller
    workers = CLUSTER["workerGroupSpecs"]
    cpu_capacity = sum(ray_cpus(g) * pods(g) for g in workers)
    gpu_capacity = sum(ray_gpus(g) * pods(g) for g in workers)
    cpu_demand, gpu_demand = demand("num_cpus", 1), demand("num_gpus", 0)  # Serve's defaults
    assert cpu_demand <= cpu_capacity, f"replicas ask for {cpu_demand} CPUs, the workers offer {cpu_capacity}"
    assert gpu_demand <= gpu_capacity, f"replicas ask for {gpu_demand} GPUs, the workers offer {gpu_capacity}"
    for group in workers:  # Ray's CPUs are the pod's guaranteed CPUs, not an overcommit of the node
        (container,) = group["template"]["spec"]["containers"]
        assert ray_cpus(group) <= cpus(container["resources"]["requests"]["cpu"]), group["groupName"]


def test_the_budget_check_catches_an_overcommit():
    """The same sums with the worker's num-cpus left to KubeRay: the check must be able to fail."""
    group = {**CLUSTER["workerGroupSpecs"][0], "rayStartParams": {}}
    with pytest.raises(pytest.fail.Exception, match="no num-cpus and no CPU limit"):
        ray_cpus(group)


HEAD_LABELS = HEAD["template"]["metadata"]["labels"]
WORKER_LABELS = [g["template"]["metadata"]["labels"] for g in CLUSTER["workerGroupSpecs"]]
OTHER_POD = {"app.kubernetes.io/name": "simplechat", "app.kubernetes.io/component": "ui"}


def selects(selector: dict, labels: dict) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        present = expression["key"] in labels
        value = labels.get(expression["key"])
        if not {
            "In": present and value in expression.get("values", []),
            "NotIn": not present or value not in expression.get("values", []),
            "Exists": present,
            "DoesNotExist": not present,
        }[expression["operator"]]:
            return False
    return True


def policy_for(labels: dict) -> dict:
    (policy,) = [p for p in POLICIES.values() if selects(p["spec"]["podSelector"], labels)]
    return policy


def admitted_ports(policy: dict, peer: dict, namespace: str = "simplechat") -> set[int]:
    """The TCP ports `policy` opens to a pod labelled `peer` in `namespace` (all: 1..65535)."""
    opened: set[int] = set()
    for rule in policy["spec"]["ingress"]:
        if "from" in rule and not any(admits(source, peer, namespace) for source in rule["from"]):
            continue  # (a rule without `from` admits every source)
        for port in rule.get("ports", [{"port": 1, "endPort": 65535}]):
            assert isinstance(port["port"], int), f"named port {port['port']}: these checks need numbers"
            if port.get("protocol", "TCP") == "TCP":
                opened |= set(range(port["port"], port.get("endPort", port["port"]) + 1))
    return opened


def admits(source: dict, peer: dict, namespace: str) -> bool:
    """A `from` entry: a namespaceSelector alone admits those namespaces, a podSelector alone those
    pods of the policy's own namespace (simplechat), both together those pods in those namespaces."""
    if "namespaceSelector" in source:
        if not selects(source["namespaceSelector"], {"kubernetes.io/metadata.name": namespace}):
            return False
    elif namespace != "simplechat":
        return False
    return "podSelector" not in source or selects(source["podSelector"], peer)


ALL = set(range(1, 65536))


def test_ray_pods_reach_each_other_on_every_port():
    """GCS, raylets, object managers, dashboard agents and workers listen on fixed and random
    ports: between the pods of the cluster all of them are open, bar the head's dashboard."""
    for peer in [HEAD_LABELS, *WORKER_LABELS]:
        assert admitted_ports(policy_for(HEAD_LABELS), peer) == ALL - {8265}
        for worker in WORKER_LABELS:
            assert admitted_ports(policy_for(worker), peer) == ALL


def test_other_pods_reach_serve_only():
    """The UI or any other simplechat pod: Serve's port; never GCS (6379) or the Ray client (10001)."""
    for labels in [HEAD_LABELS, *WORKER_LABELS]:
        assert admitted_ports(policy_for(labels), OTHER_POD) == {8000}
        assert admitted_ports(policy_for(labels), {}, namespace="elsewhere") == set()


def test_dashboard_reaches_only_the_operator():
    assert HEAD["serviceType"] == "ClusterIP"
    for policy in POLICIES.values():
        kubernetes_validate.validate(policy, "1.33", strict=True)
    head_policy = policy_for(HEAD_LABELS)
    # The operator deploys the Serve config on 8265 and checks the head's proxy on 8000 (/-/healthz).
    assert admitted_ports(head_policy, {}, namespace=OPERATOR_NAMESPACE) == {8265, 8000}
    assert admitted_ports(policy_for(WORKER_LABELS[0]), {}, namespace=OPERATOR_NAMESPACE) == set()
    assert not [o for o in OBJECTS if o["kind"] in ("Ingress", "Service")]  # nothing else publishes Ray


def test_operator_namespace_is_one_documented_parameter():
    """The header's sed command moves the operator's namespace, and only that, wherever it is used."""
    command = re.search(
        r"^#\s+(sed 's/kuberay-system/([\w-]+)/' manifests/ray/rayservice\.yaml \| kubectl apply .*)$",
        MANIFEST,
        flags=re.MULTILINE,
    )
    assert command, "the header documents no sed command for KUBERAY_NAMESPACE"
    assert "KUBERAY_NAMESPACE (default kuberay-system)" in MANIFEST
    other = command.group(2)
    moved = [o for o in yaml.safe_load_all(MANIFEST.replace(OPERATOR_NAMESPACE, other))]
    head_policy = next(
        p
        for p in moved
        if p["kind"] == "NetworkPolicy" and p["metadata"]["name"] == policy_for(HEAD_LABELS)["metadata"]["name"]
    )
    assert admitted_ports(head_policy, {}, namespace=other) == {8265, 8000}
    assert admitted_ports(head_policy, {}, namespace=OPERATOR_NAMESPACE) == set()

    def strip(node):  # every value but the namespaceSelectors is unchanged
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "namespaceSelector"}
        return [strip(v) for v in node] if isinstance(node, list) else node

    assert [strip(o) for o in moved] == [strip(o) for o in OBJECTS]


def test_header_states_the_kuberay_floor():
    """1.0 deployed Serve configs through the dashboard agent (52365), which the policy closes."""
    floor = re.search(r"^# KubeRay floor: operator >= (\d+)\.(\d+)\.(\d+)\.", MANIFEST, flags=re.MULTILINE)
    assert floor, "the header states no KubeRay floor"
    assert tuple(map(int, floor.groups())) >= (1, 1, 0)
    assert 52365 not in admitted_ports(policy_for(HEAD_LABELS), {}, namespace=OPERATOR_NAMESPACE)
