"""`monitoring.enabled` and `autoscaling.mode`: PodMonitors, the Grafana dashboard and KEDA
ScaledObjects, and what each mode tells KServe.

The PodMonitor and the ScaledObject are validated against their own CRD schemas (prometheus-operator
v0.93.0, KEDA v2.20.2; tests/data/crds/), unknown fields refused. The dashboard's and the
ScaledObject's PromQL is checked here for the metric names and labels the predictors promise;
tests/monitoring runs the queries against a Prometheus scraping real predictors."""

from __future__ import annotations

import json
import re
import subprocess

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.chart.conftest import CHART, of_kind, render
from tests.chart.test_chart import K8S_VERSION, closed, isvc_schema, validator  # noqa: F401 - a fixture
from tests.conftest import ROOT

CRDS = ROOT / "tests" / "data" / "crds"
MODELS = ("chatbot", "extractor")
ON = ["--set", "monitoring.enabled=true", "--set", "autoscaling.mode=keda"]
AUTOSCALER_CLASS = "serving.kserve.io/autoscalerClass"
KINDS = ("PodMonitor", "ScaledObject", "ConfigMap")

# What every predictor's /metrics exposes (histograms as their series), each with a `model` label.
HISTOGRAMS = {
    "simplechat_batch_size",
    "simplechat_queue_wait_seconds",
    "simplechat_forward_seconds",
    "simplechat_request_duration_seconds",
    "simplechat_time_to_first_token_seconds",
}
METRICS = {f"{h}_{suffix}" for h in HISTOGRAMS for suffix in ("bucket", "sum", "count")} | {
    "simplechat_requests_in_flight",
    "simplechat_queue_depth",
    "simplechat_rejections_total",
    "simplechat_generated_tokens_total",
    "simplechat_stream_sequences_running",
}
FUNCTIONS = {"sum", "rate", "histogram_quantile", "by", "avg_over_time"}
# The predictors' own labels: Grafana's queries must find the series wherever they are scraped.
DASHBOARD_LABELS = {"model", "reason", "le"}
# What the dashboard must show, as the PromQL that shows it.
PANELS = {
    "requests/s": r"rate\(simplechat_request_duration_seconds_count\[1m\]\)",
    "p50 latency": r"histogram_quantile\(0\.5, .*\(simplechat_request_duration_seconds_bucket\[1m\]\)",
    "p99 latency": r"histogram_quantile\(0\.99, .*\(simplechat_request_duration_seconds_bucket\[1m\]\)",
    "batch size": r"\(simplechat_batch_size_(bucket|sum|count)\[1m\]\)",
    "queue depth": r"\(simplechat_queue_depth\)",
    "rejections": r"sum by \(model, reason\) \(rate\(simplechat_rejections_total\[1m\]\)\)",
    "TTFT": r"histogram_quantile\(0\.\d+, .*\(simplechat_time_to_first_token_seconds_bucket\[1m\]\)",
}


def crd_validator(file: str, version: str):
    crd = yaml.safe_load((CRDS / file).read_text(encoding="utf-8"))
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return validator(closed(served["schema"]["openAPIV3Schema"]))


@pytest.fixture(scope="module")
def scaledobject_schema():
    return crd_validator("keda.sh_scaledobjects.yaml", "v1alpha1")


@pytest.fixture(scope="module")
def podmonitor_schema():
    return crd_validator("monitoring.coreos.com_podmonitors.yaml", "v1")


@pytest.fixture(scope="module")
def keda(helm) -> list[dict]:
    """The acceptance render: monitoring on, KEDA scaling."""
    return render(helm, *ON)


def validate_scaledobject(schema, scaled: dict) -> None:
    schema.validate(scaled)
    # The CRD's one CEL rule (x-kubernetes-validations), which jsonschema does not run.
    spec = scaled["spec"]
    assert spec.get("minReplicaCount", 0) <= spec.get("maxReplicaCount", 100), scaled["metadata"]["name"]


def dashboard(objects: list[dict]) -> dict:
    (configmap,) = of_kind(objects, "ConfigMap").values()
    (text,) = configmap["data"].values()
    return json.loads(text)


def queries(board: dict) -> list[str]:
    return [target["expr"] for panel in board["panels"] for target in panel["targets"]]


def promql_names(expr: str) -> tuple[set[str], set[str], set[str]]:
    """(series names, label names, everything else) an expression uses; strings and windows set aside."""
    text = re.sub(r'"[^"]*"', "", expr)
    labels = set()
    for group in re.findall(r"\bby\s*\(([^)]*)\)", text) + re.findall(r"\{([^}]*)\}", text):
        labels |= set(re.findall(r"\b[a-zA-Z_]\w*\b", group))
    text = re.sub(r"\bby\s*\([^)]*\)|\{[^}]*\}|\[\w+\]", " by ", text)
    words = set(re.findall(r"\b[a-zA-Z_][\w:]*\b", text))
    series = {w for w in words if w.startswith("simplechat_")}
    return series, labels, words - series


def test_the_query_check_sees_what_is_wrong():
    """The parser the checks below rely on, on queries they must refuse."""
    assert promql_names('sum by (pod) (rate(simplechat_queue_depth{namespace="x"}[5m]))') == (
        {"simplechat_queue_depth"},
        {"pod", "namespace"},
        {"sum", "by", "rate"},
    )
    assert promql_names("avg(simplechat_requests_total)")[0] - METRICS == {"simplechat_requests_total"}
    assert promql_names("avg(simplechat_queue_depth)")[2] - FUNCTIONS == {"avg"}


def test_by_default_nothing_of_monitoring_or_keda_is_rendered(helm):
    objects = render(helm)
    for kind in KINDS:
        assert not of_kind(objects, kind), kind
    for isvc in of_kind(objects, "InferenceService").values():
        assert AUTOSCALER_CLASS not in isvc["metadata"]["annotations"]
        assert isvc["spec"]["predictor"]["scaleMetric"] == "cpu"  # KServe's HPA, as before
    # monitoring without keda: monitors and the dashboard, KServe's HPA untouched
    objects = render(helm, "--set", "monitoring.enabled=true")
    assert set(of_kind(objects, "PodMonitor")) == {"simplechat-chatbot", "simplechat-extractor"}
    assert set(of_kind(objects, "ConfigMap")) == {"simplechat-dashboard"}
    assert not of_kind(objects, "ScaledObject")
    assert not [
        i for i in of_kind(objects, "InferenceService").values() if AUTOSCALER_CLASS in i["metadata"]["annotations"]
    ]


def test_monitoring_and_keda_render_monitors_and_scaled_objects_that_validate(
    keda, podmonitor_schema, scaledobject_schema
):
    monitors, scaled = of_kind(keda, "PodMonitor"), of_kind(keda, "ScaledObject")
    assert set(monitors) == set(scaled) == {"simplechat-chatbot", "simplechat-extractor"}
    for monitor in monitors.values():
        podmonitor_schema.validate(monitor)
    for scaledobject in scaled.values():
        validate_scaledobject(scaledobject_schema, scaledobject)
    assert set(of_kind(keda, "ConfigMap")) == {"simplechat-dashboard"}
    for isvc in of_kind(keda, "InferenceService").values():
        # KServe makes no HPA (and deletes one it made) and leaves the replica count to KEDA.
        assert isvc["metadata"]["annotations"][AUTOSCALER_CLASS] == "external"
        assert "scaleMetric" not in isvc["spec"]["predictor"] and "scaleTarget" not in isvc["spec"]["predictor"]


def test_the_crd_checks_catch_a_typo(keda, podmonitor_schema, scaledobject_schema):
    scaled = of_kind(keda, "ScaledObject")["simplechat-chatbot"]
    with pytest.raises(jsonschema.ValidationError, match="minReplicas"):
        scaledobject_schema.validate({**scaled, "spec": {**scaled["spec"], "minReplicas": 1}})
    with pytest.raises(jsonschema.ValidationError, match="threshold"):  # trigger metadata is all strings
        trigger = {**scaled["spec"]["triggers"][0], "metadata": {"threshold": 8}}
        scaledobject_schema.validate({**scaled, "spec": {**scaled["spec"], "triggers": [trigger]}})
    monitor = of_kind(keda, "PodMonitor")["simplechat-chatbot"]
    with pytest.raises(jsonschema.ValidationError, match="podMetricEndpoints"):
        podmonitor_schema.validate({**monitor, "spec": {**monitor["spec"], "podMetricEndpoints": []}})


def test_scaled_objects_scale_each_predictor_deployment_on_its_queue_depth(helm, scaledobject_schema):
    objects = render(
        helm,
        *ON,
        "--set",
        "chatbot.minReplicas=2",
        "--set",
        "chatbot.maxReplicas=6",
        "--set",
        "extractor.maxReplicas=4",
        "--set",
        "autoscaling.keda.queueDepthTarget=3",
        "--set",
        "autoscaling.keda.prometheusServerAddress=http://prometheus.metrics.svc:9090",
        release="demo",
    )
    services = of_kind(objects, "InferenceService")
    assert set(services) == {"demo-simplechat-chatbot", "demo-simplechat-extractor"}
    bounds = {"chatbot": (2, 6), "extractor": (1, 4)}
    for name, scaled in of_kind(objects, "ScaledObject").items():
        validate_scaledobject(scaledobject_schema, scaled)
        model = name.rsplit("-", 1)[1]
        spec = scaled["spec"]
        # KServe's Standard mode names the predictor's Deployment <isvc>-predictor.
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{name}-predictor"}
        assert name in services
        assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == bounds[model]
        predictor = services[name]["spec"]["predictor"]
        assert (predictor["minReplicas"], predictor["maxReplicas"]) == bounds[model]  # KServe is told the same
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "prometheus"
        assert trigger["metadata"]["serverAddress"] == "http://prometheus.metrics.svc:9090"
        assert trigger["metadata"]["threshold"] == "3"
        query = trigger["metadata"]["query"]
        series, labels, functions = promql_names(query)
        assert series == {"simplechat_queue_depth"} and functions <= FUNCTIONS, query
        # This model's queue in this release's namespace: another release's must not scale it.
        assert f'model="{model}"' in query and 'namespace="simplechat"' in query, query
        assert labels == {"model", "namespace"} and query.startswith("sum("), query  # one number for KEDA


def test_pod_monitors_select_the_predictor_pods_and_scrape_their_api_port(helm, podmonitor_schema):
    objects = render(
        helm,
        *ON,
        "--set",
        "monitoring.podMonitor.labels.release=kube-prometheus-stack",
        "--set",
        "monitoring.podMonitor.interval=",
    )
    services = of_kind(objects, "InferenceService")
    (ui,) = of_kind(objects, "Deployment").values()
    (test_pod,) = of_kind(objects, "Pod").values()
    for name, monitor in of_kind(objects, "PodMonitor").items():
        podmonitor_schema.validate(monitor)
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"  # for the Prometheus' selector
        selector = monitor["spec"]["selector"]["matchLabels"]
        predictor = services[name]["spec"]["predictor"]  # KServe puts these labels on the predictor pods
        assert selector.items() <= predictor["labels"].items(), name
        others = [ui["spec"]["template"]["metadata"]["labels"], test_pod["metadata"]["labels"]]
        others += [s["spec"]["predictor"]["labels"] for n, s in services.items() if n != name]
        assert not [labels for labels in others if selector.items() <= labels.items()], name
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        assert endpoint == {"port": "http", "path": "/metrics"}  # no interval: the Prometheus' own
        (container,) = predictor["containers"]
        assert {"name": "http", "containerPort": 8080, "protocol": "TCP"} in container["ports"]


def test_the_dashboard_is_a_configmap_for_grafanas_sidecar(keda):
    (configmap,) = of_kind(keda, "ConfigMap").values()
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    kubernetes_validate.validate(configmap, K8S_VERSION, strict=True)
    board = dashboard(keda)
    assert board == json.loads((CHART / "dashboards" / "simplechat.json").read_text(encoding="utf-8"))
    # A Prometheus datasource variable, which every panel and query uses.
    (variable,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": f"${{{variable['name']}}}"}, panel["title"]
        assert all(t["datasource"] == panel["datasource"] for t in panel["targets"]), panel["title"]
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), panel["title"]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])


def test_the_dashboard_shows_traffic_latency_batches_queue_rejections_and_ttft(keda):
    panels = {panel["title"]: [t["expr"] for t in panel["targets"]] for panel in dashboard(keda)["panels"]}
    shown = {
        what: [title for title, exprs in panels.items() if any(re.search(pattern, e) for e in exprs)]
        for what, pattern in PANELS.items()
    }
    assert all(shown.values()), shown


def test_every_dashboard_query_uses_only_the_predictors_metrics_and_labels(keda):
    exprs = queries(dashboard(keda))
    assert len(exprs) >= len(PANELS)
    for expr in exprs:
        series, labels, functions = promql_names(expr)
        assert series and series <= METRICS, expr
        assert labels <= DASHBOARD_LABELS, expr
        assert functions <= FUNCTIONS, expr
        assert set(re.findall(r"\[(\w+)\]", expr)) <= {"1m"}, expr
        assert expr.count("(") == expr.count(")"), expr
    used = set().union(*(promql_names(e)[0] for e in exprs))
    assert {"simplechat_queue_wait_seconds_bucket", "simplechat_forward_seconds_bucket"} <= used


def test_dashboard_labels_and_annotations_come_from_values(helm):
    objects = render(
        helm,
        "--set",
        "monitoring.enabled=true",
        "--set",
        "monitoring.dashboard.labels.grafana_dashboard=null",
        "--set",
        "monitoring.dashboard.labels.dashboards=simplechat",
        "--set",
        "monitoring.dashboard.annotations.grafana_folder=ML",
    )
    (configmap,) = of_kind(objects, "ConfigMap").values()
    assert configmap["metadata"]["labels"]["dashboards"] == "simplechat"
    assert "grafana_dashboard" not in configmap["metadata"]["labels"]
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "ML"}
    objects = render(helm, *ON, "--set", "monitoring.dashboard.enabled=false")
    assert not of_kind(objects, "ConfigMap") and of_kind(objects, "PodMonitor")


@pytest.mark.parametrize("model", MODELS)
def test_a_disabled_predictor_gets_no_monitor_and_no_scaled_object(helm, model):
    objects = render(helm, *ON, "--set", f"{model}.enabled=false")
    (other,) = [m for m in MODELS if m != model]
    assert set(of_kind(objects, "PodMonitor")) == set(of_kind(objects, "ScaledObject")) == {f"simplechat-{other}"}
    assert set(of_kind(objects, "InferenceService")) == {f"simplechat-{other}"}
    assert of_kind(objects, "ConfigMap")  # the dashboard still shows the other one


def test_mode_none_runs_min_replicas_and_no_autoscaler(helm):
    objects = render(helm, "--set", "autoscaling.mode=none", "--set", "chatbot.minReplicas=2")
    assert not of_kind(objects, "ScaledObject")
    for name, isvc in of_kind(objects, "InferenceService").items():
        predictor = isvc["spec"]["predictor"]
        assert isvc["metadata"]["annotations"][AUTOSCALER_CLASS] == "none", name
        assert predictor["maxReplicas"] == predictor["minReplicas"] == (2 if name.endswith("chatbot") else 1)
        assert "scaleMetric" not in predictor


def test_gpu_predictors_keep_min_replicas_under_hpa_and_scale_on_the_queue_under_keda(helm, scaledobject_schema):
    """Under hpa a GPU predictor gets no HPA (CPU use says nothing of a GPU's load); its queue
    depth does, so keda scales it like the others."""
    gpu = ["-f", str(CHART / "ci" / "gpu-values.yaml")]
    hpa = of_kind(render(helm, *gpu), "InferenceService")
    assert hpa["simplechat-chatbot"]["metadata"]["annotations"][AUTOSCALER_CLASS] == "none"
    assert AUTOSCALER_CLASS not in hpa["simplechat-extractor"]["metadata"]["annotations"]
    objects = render(helm, *gpu, *ON)
    chatbot = of_kind(objects, "InferenceService")["simplechat-chatbot"]
    assert chatbot["metadata"]["annotations"][AUTOSCALER_CLASS] == "external"
    values = yaml.safe_load((CHART / "ci" / "gpu-values.yaml").read_text())["chatbot"]
    scaled = of_kind(objects, "ScaledObject")["simplechat-chatbot"]
    validate_scaledobject(scaledobject_schema, scaled)
    assert scaled["spec"]["maxReplicaCount"] == chatbot["spec"]["predictor"]["maxReplicas"]
    assert scaled["spec"]["maxReplicaCount"] == values.get("maxReplicas", 3)


@pytest.mark.parametrize("mode", ["hpa", "keda", "none"])
def test_inference_services_of_every_mode_match_the_crd(helm, mode, isvc_schema):  # noqa: F811 - the fixture
    for isvc in of_kind(render(helm, "--set", f"autoscaling.mode={mode}"), "InferenceService").values():
        isvc_schema.validate(isvc)


def test_network_policies_admit_the_prometheus_of_the_monitors(helm):
    def scrapers(*args: str) -> dict[str, list[str]]:
        found = {}
        for name, policy in of_kind(render(helm, *args), "NetworkPolicy").items():
            kubernetes_validate.validate(policy, K8S_VERSION, strict=True)
            peers = policy["spec"]["ingress"][0]["from"]
            found[name] = [
                p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                for p in peers
                if "namespaceSelector" in p
            ]
        return found

    predictors_only = {"simplechat-chatbot", "simplechat-extractor"}
    on = scrapers(*ON)
    for name, namespaces in on.items():
        assert namespaces == (["ingress-nginx", "monitoring"] if name in predictors_only else ["ingress-nginx"])
    both = scrapers(*ON, "--set", "networkPolicy.monitoringNamespace=observability")
    assert both["simplechat-chatbot"] == ["ingress-nginx", "observability", "monitoring"]
    same = scrapers(*ON, "--set", "networkPolicy.monitoringNamespace=monitoring")
    assert same["simplechat-chatbot"] == ["ingress-nginx", "monitoring"]  # admitted once
    assert scrapers()["simplechat-chatbot"] == ["ingress-nginx"]
    # Without NetworkPolicies nothing needs admitting, so no namespace is required.
    assert render(helm, *ON, "--set", "networkPolicy.enabled=false", "--set", "monitoring.prometheusNamespace=")


def test_with_monitoring_on_the_builtin_kinds_still_match_the_kubernetes_schemas(keda):
    builtin = [o for o in keda if o["kind"] not in ("InferenceService", "PodMonitor", "ScaledObject")]
    assert {"ConfigMap", "NetworkPolicy", "Deployment"} <= {o["kind"] for o in builtin}
    for obj in builtin:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "autoscaling.mode=auto"], "/autoscaling/mode"),
        (["--set", "autoscaling.keda.queueDepthTarget=0"], "/autoscaling/keda/queueDepthTarget"),
        (
            ["--set", "autoscaling.keda.prometheusServerAddress=prometheus:9090"],
            "/autoscaling/keda/prometheusServerAddress",
        ),
        (["--set", "monitoring.podMonitor.interval=15"], "/monitoring/podMonitor/interval"),
        (["--set", "monitoring.dashbord.enabled=false"], "additional properties 'dashbord' not allowed"),
        ([*ON, "--set", "chatbot.minReplicas=0"], "chatbot.minReplicas must be at least 1 with autoscaling.mode keda"),
        ([*ON, "--set", "extractor.minReplicas=4"], "extractor.minReplicas (4) exceeds extractor.maxReplicas (3)"),
        ([*ON, "--set", "monitoring.prometheusNamespace="], "monitoring.prometheusNamespace is required"),
    ],
)
def test_bad_monitoring_and_autoscaling_values_are_refused(helm, args, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        render(helm, *args)


def notes(helm: str, *args: str) -> str:
    result = subprocess.run(
        [helm, "install", "simplechat", str(CHART), "--dry-run=client", "-n", "simplechat", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split("NOTES:", 1)[1]


def test_notes_say_what_monitoring_and_autoscaling_do(helm):
    text = notes(helm, *ON)
    assert "PodMonitor" in text and "ConfigMap simplechat-dashboard" in text
    assert "get scaledobjects,hpa" in text and "http://prometheus-operated.monitoring.svc:9090" in text
    assert "monitoring.enabled is false" not in text
    assert "monitoring.enabled is false" in notes(helm, "--set", "autoscaling.mode=keda")
    assert "Autoscaling is off" in notes(helm, "--set", "autoscaling.mode=none")
    default = notes(helm)
    assert "PodMonitor" not in default and "Autoscaling" not in default
