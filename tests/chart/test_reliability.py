"""What the chart promises about stopping and exposure, in every ci/ scenario: serving pods leave
the load balancers before SIGTERM and drain before SIGKILL, every pod runs restricted, a PDB and a
NetworkPolicy cover each workload, and nothing publishes metrics, API docs or Ray's dashboard."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.chart.conftest import CHART, SCENARIOS, of_kind, render
from tests.chart.test_chart import routed_service
from tests.conftest import ROOT

SERVING = {"chatbot", "extractor", "ui"}
# Kinds whose pods this file inspects, plus kinds that make none: a new workload kind must be added here.
POD_KINDS = {"InferenceService", "Deployment", "Pod"}
OTHER_KINDS = {"Service", "Ingress", "NetworkPolicy", "PodDisruptionBudget"}
# Ray's dashboard and jobs API, Prometheus and the usual exporter ports.
UNPUBLISHED_PORTS = {8265, 9090, 9091, 9100}
UNPUBLISHED_NAME = re.compile(r"metric|prom|dashboard|docs", re.IGNORECASE)
# What the predictors (FastAPI, kserve) serve besides the model routes.
UNPUBLISHED_PATHS = ["/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"]


@pytest.fixture(scope="module")
def rendered(helm) -> dict[str, list[dict]]:
    return {scenario: render(helm, "-f", str(CHART / "ci" / scenario)) for scenario in SCENARIOS}


def pods(objects: list[dict]) -> dict[str, tuple[dict, dict]]:
    """Every pod the chart makes, by name: (its labels, its spec). KServe turns a predictor spec
    into a Deployment whose pods carry spec.predictor.labels."""
    assert {o["kind"] for o in objects} <= POD_KINDS | OTHER_KINDS
    found = {}
    for o in objects:
        name = o["metadata"]["name"]
        if o["kind"] == "InferenceService":
            found[f"{name}-predictor"] = (o["spec"]["predictor"].get("labels", {}), o["spec"]["predictor"])
        elif o["kind"] == "Deployment":
            found[name] = (o["spec"]["template"]["metadata"]["labels"], o["spec"]["template"]["spec"])
        elif o["kind"] == "Pod":
            found[name] = (o["metadata"].get("labels", {}), o["spec"])
    return found


def component(labels: dict) -> str:
    return labels["app.kubernetes.io/component"]


def containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"]


def flag(args: list[str], name: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in args if a.startswith(name + "=")]
    return value


def prestop_sleep(container: dict) -> int:
    """Seconds the preStop hook sleeps: the native sleep action or `exec: sleep N`."""
    hook = container.get("lifecycle", {}).get("preStop", {})
    if "sleep" in hook:
        return hook["sleep"]["seconds"]
    command = hook.get("exec", {}).get("command", [])
    assert len(command) == 2 and command[0] == "sleep", f"{container['name']}: preStop is not a sleep: {hook}"
    return int(command[1])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_serving_pods_leave_the_endpoints_then_drain_before_sigkill(rendered, scenario):
    serving = {
        name: (labels, spec)
        for name, (labels, spec) in pods(rendered[scenario]).items()
        if component(labels) in SERVING
    }
    assert {component(labels) for labels, _ in serving.values()} == SERVING
    for name, (labels, spec) in serving.items():
        grace = spec["terminationGracePeriodSeconds"]  # the kubelet counts preStop against it too
        for container in containers(spec):
            sleep = prestop_sleep(container)
            assert 0 < sleep < grace, name
            if component(labels) == "ui":
                continue  # nginx drains on the image's STOPSIGNAL (SIGQUIT) until SIGKILL
            drain = int(flag(container["args"], "--grace_period_s"))
            assert drain > 0 and sleep + drain <= grace, (name, sleep, drain, grace)
            # a request admitted just before SIGTERM may run to its deadline
            assert drain >= float(flag(container["args"], "--request_timeout_s")), name


def test_exec_sleep_exists_in_the_images():
    """`exec: sleep` needs the binary: Debian's coreutils in python:*-slim, busybox in *-alpine."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_BASE=python:[\w.]+-slim-\w+$", dockerfile, flags=re.MULTILINE)
    assert re.search(r"^ARG NGINX_BASE=\S+-alpine$", dockerfile, flags=re.MULTILINE)


def test_shutdown_and_admission_values_reach_the_pods(helm):
    objects = render(
        helm,
        "--set",
        "shutdown.gracePeriodSeconds=60",
        "--set",
        "shutdown.preStopSleepSeconds=10",
        "--set",
        "chatbot.maxQueue=8",
        "--set",
        "chatbot.requestTimeoutSeconds=45",
    )
    found = pods(objects)
    chatbot = found["simplechat-chatbot-predictor"][1]
    extractor = found["simplechat-extractor-predictor"][1]
    assert chatbot["terminationGracePeriodSeconds"] == 60
    assert found["simplechat-ui"][1]["terminationGracePeriodSeconds"] == 60
    args = chatbot["containers"][0]["args"]
    assert (flag(args, "--grace_period_s"), flag(args, "--max_queue"), flag(args, "--request_timeout_s")) == (
        "50",
        "8",
        "45",
    )
    assert prestop_sleep(chatbot["containers"][0]) == 10
    assert flag(extractor["containers"][0]["args"], "--max_queue") == "64"  # per predictor


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "shutdown.gracePeriodSeconds=5"], "shutdown.gracePeriodSeconds must exceed"),
        (["--set", "shutdown.preStopSleepSeconds=0"], "/shutdown/preStopSleepSeconds"),
        (["--set", "extractor.maxQueue=0"], "/extractor/maxQueue"),
        (["--set", "chatbot.requestTimeoutSeconds=-1"], "/chatbot/requestTimeoutSeconds"),
    ],
)
def test_bad_shutdown_and_admission_values_are_refused(helm, args, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        render(helm, *args)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_pod_meets_the_restricted_pod_security_standard(rendered, scenario):
    """Every pod, the UI's and the `helm test` pod's included (test_chart checks the predictors' uid
    and read-only root); a container's securityContext overrides its pod's."""
    found = pods(rendered[scenario])
    assert {component(labels) for labels, _ in found.values()} == SERVING | {"test"}
    for name, (_, spec) in found.items():
        pod = spec.get("securityContext", {})
        assert not any(spec.get(host) for host in ("hostNetwork", "hostPID", "hostIPC")), name
        assert not [v for v in spec.get("volumes", []) if "hostPath" in v], name
        for container in containers(spec):
            where = f"{name}/{container['name']}"
            own = container.get("securityContext", {})
            assert own.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, where
            assert own.get("runAsUser", pod.get("runAsUser")) != 0, where
            assert own.get("allowPrivilegeEscalation") is False, where
            assert not own.get("privileged"), where
            assert "ALL" in own.get("capabilities", {}).get("drop", []), where
            assert set(own.get("capabilities", {}).get("add", [])) <= {"NET_BIND_SERVICE"}, where
            assert own.get("seccompProfile", pod.get("seccompProfile")) == {"type": "RuntimeDefault"}, where


def selects(selector: dict, labels: dict) -> bool:
    assert set(selector) == {"matchLabels"}, selector  # what this check understands
    return selector["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_workload_has_its_own_pdb_and_a_network_policy(rendered, scenario):
    objects = rendered[scenario]
    budgets, policies = of_kind(objects, "PodDisruptionBudget"), of_kind(objects, "NetworkPolicy")
    workloads = {name: labels for name, (labels, _) in pods(objects).items() if component(labels) in SERVING}
    assert {component(labels) for labels in workloads.values()} == SERVING
    for name, labels in workloads.items():
        covering = [b for b, budget in budgets.items() if selects(budget["spec"]["selector"], labels)]
        assert len(covering) == 1, (name, covering)  # overlapping PDBs block evictions altogether
        assert [
            p
            for p, policy in policies.items()
            if selects(policy["spec"]["podSelector"], labels) and "Ingress" in policy["spec"]["policyTypes"]
        ], name


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_service_or_container_port_publishes_metrics_or_a_dashboard(rendered, scenario):
    objects = rendered[scenario]
    services = of_kind(objects, "Service")
    assert services
    for name, service in services.items():
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name
        for port in service["spec"]["ports"]:
            assert not {port["port"], port.get("targetPort")} & UNPUBLISHED_PORTS, (name, port)
            assert not UNPUBLISHED_NAME.search(f"{port.get('name', '')} {port.get('targetPort', '')}"), (name, port)
    # KServe builds each predictor's Service from its container ports.
    for name, (_, spec) in pods(objects).items():
        for container in containers(spec):
            for port in container.get("ports", []):
                assert port["containerPort"] not in UNPUBLISHED_PORTS, (name, port)
                assert not UNPUBLISHED_NAME.search(port.get("name", "")), (name, port)
            assert not [a for a in container.get("args", []) if a.startswith("--enable_docs_url")], name


@pytest.mark.parametrize("api_to_predictors", ["true", "false"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_ingress_routes_only_the_ui_and_the_model_apis(helm, scenario, api_to_predictors):
    objects = render(helm, "-f", str(CHART / "ci" / scenario), "--set", f"ingress.apiToPredictors={api_to_predictors}")
    ingresses = of_kind(objects, "Ingress")
    predictors = {f"{name}-predictor" for name in of_kind(objects, "InferenceService")}
    routes = [
        (p["path"], p["pathType"], p["backend"]["service"]["name"])
        for ingress in ingresses.values()
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    ]
    assert ("/", "Prefix", "simplechat-ui") in routes
    for path, path_type, service in routes:
        if service == "simplechat-ui":
            assert (path, path_type) == ("/", "Prefix")
        else:  # anchored under /api: nothing of the predictors' own root reaches them
            assert service in predictors and path_type == "ImplementationSpecific" and path.startswith("/api/(")
    for path in UNPUBLISHED_PATHS:
        for prefix in ("", "/api", "/api/v1", "/api/v2"):
            target = routed_service(ingresses, prefix + path)
            # the UI serves files and its own /api routes, none of which are these
            assert target is None or target[0] == "simplechat-ui", (prefix + path, target)


def test_ui_nginx_proxies_only_the_model_apis():
    """With apiToPredictors=false the UI's nginx is the only way in: it must not pass these on either."""
    conf = (ROOT / "frontend" / "nginx.conf").read_text(encoding="utf-8")
    # Every proxied location strips /api and passes the rest of the (normalized) path on.
    blocks = re.findall(r"^\s*location (?:= )?(\S+) \{([^}]*)\}", conf, flags=re.MULTILINE)
    proxied = [(path, body) for path, body in blocks if "proxy_pass" in body]
    assert len(proxied) == 9
    allowed = re.compile(r"^/api/(v[12]/models/(chatbot|extractor)|chat|health|extract-course-name/?|openai/v1/)$")
    for path, body in proxied:
        assert allowed.match(path), path
        assert "rewrite ^/api(/.*)$ $1 break;" in body and re.search(r"proxy_pass http://\$\w+_upstream;", body), body


RAY = ROOT / "manifests" / "ray"


def ray_objects() -> list[dict]:
    return [
        o
        for f in sorted(RAY.glob("*.yaml"))
        for o in yaml.safe_load_all(f.read_text(encoding="utf-8"))
        if o and "kind" in o
    ]


def covers(port: dict, number: int, name: str) -> bool:
    if "port" not in port:
        return True  # every port
    if port["port"] == name:
        return True
    return isinstance(port["port"], int) and port["port"] <= number <= port.get("endPort", port["port"])


def test_ray_dashboard_stays_cluster_internal_and_operator_only():
    """Beyond test_ray_manifests: every file in manifests/ray/, KubeRay's Service overrides, and
    that the NetworkPolicy selects the head and no other rule opens 8265 by range, name or omission."""
    objects = ray_objects()
    assert not [o for o in objects if o["kind"] in ("Service", "Ingress", "Route", "Gateway", "HTTPRoute")]
    (service,) = [o for o in objects if o["kind"] == "RayService"]
    head = service["spec"]["rayClusterConfig"]["headGroupSpec"]
    for override in (head.get("headService"), service["spec"].get("serveService")):
        assert override is None or override["spec"].get("type", "ClusterIP") == "ClusterIP", override
    head_labels = head["template"]["metadata"]["labels"]
    policies = [
        o
        for o in objects
        if o["kind"] == "NetworkPolicy" and o["spec"]["podSelector"]["matchLabels"].items() <= head_labels.items()
    ]
    assert policies, "no NetworkPolicy selects the Ray head"
    operator = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kuberay-system"}}}]
    for policy in policies:
        assert "Ingress" in policy["spec"]["policyTypes"]
        for rule in policy["spec"]["ingress"]:
            opens = any(covers(port, 8265, "dashboard") for port in rule.get("ports", [{}]))
            assert not opens or rule.get("from") == operator, rule
