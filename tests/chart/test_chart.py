"""The Helm chart, validated by real tools with no cluster: helm lint/template for every
ci/*-values.yaml scenario, Kubernetes schemas (kubernetes-validate), the InferenceService CRD's
own schema, and the wiring the UI and the images rely on (paths, Service names, ports)."""

from __future__ import annotations

import copy
import os
import re
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.chart.conftest import CHART, SCENARIOS, of_kind, render
from tests.conftest import ROOT

# SIMPLECHAT_KSERVE_CRD: CI downloads the CRD of the KServe version scripts/lib.sh pins and points
# this at it (the shared/ folder beside the clone exists only on a developer machine).
CRD = Path(
    os.environ.get("SIMPLECHAT_KSERVE_CRD")
    or ROOT.parent / "shared" / "kserve" / "serving.kserve.io_inferenceservices.yaml"
)
K8S_VERSION = "1.33"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_lint(helm, scenario):
    result = subprocess.run(
        [helm, "lint", str(CHART), "--strict", "-f", str(CHART / "ci" / scenario)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_builtin_kinds_match_the_kubernetes_schemas(helm, scenario):
    objects = render(helm, "-f", str(CHART / "ci" / scenario))
    builtin = [o for o in objects if o["apiVersion"] != "serving.kserve.io/v1beta1"]
    assert {o["kind"] for o in builtin} >= {
        "Deployment",
        "Service",
        "Ingress",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Pod",
    }
    for obj in builtin:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)  # raises on any unknown or bad field


def closed(schema: dict) -> dict:
    """The CRD schema with unknown fields refused wherever it lists properties (the API server
    would silently prune them: a typo'd field would vanish instead of failing)."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
                node.setdefault("additionalProperties", False)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def validator(schema: dict):
    """A validator built once: jsonschema.validate checks the (large) schema itself on every call."""
    return jsonschema.validators.validator_for(schema)(schema)


@pytest.fixture(scope="module")
def isvc_schema():
    if not CRD.exists():
        pytest.skip(f"the KServe CRD is not at {CRD} (it lives in the shared/ folder beside the clone)")
    crd = yaml.safe_load(CRD.read_text(encoding="utf-8"))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    return validator(closed(version["schema"]["openAPIV3Schema"]))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_inference_services_match_the_crd(helm, scenario, isvc_schema):
    services = of_kind(render(helm, "-f", str(CHART / "ci" / scenario)), "InferenceService")
    assert set(services) == {"simplechat-chatbot", "simplechat-extractor"}
    for isvc in services.values():
        isvc_schema.validate(isvc)
        assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"


def test_crd_check_catches_a_typo(helm, isvc_schema):
    isvc = of_kind(render(helm), "InferenceService")["simplechat-chatbot"]
    isvc["spec"]["predictor"]["minReplica"] = 1  # the check must be able to fail
    with pytest.raises(jsonschema.ValidationError, match="minReplica"):
        isvc_schema.validate(isvc)


def predictor(isvc: dict) -> dict:
    (container,) = isvc["spec"]["predictor"]["containers"]
    return container


def test_predictors_run_restricted_with_http_probes(helm):
    for name, isvc in of_kind(render(helm), "InferenceService").items():
        model = name.removeprefix("simplechat-")
        spec, container = isvc["spec"]["predictor"], predictor(isvc)
        assert container["name"] == "kserve-container"
        assert container["image"] == f"ghcr.io/simplechat/simplechat-{model}:0.1.0"
        assert f"--model_name={model}" in container["args"] and "--model_dir=/mnt/models" in container["args"]
        for probe in ("readinessProbe", "startupProbe"):
            assert container[probe]["httpGet"] == {"path": f"/v1/models/{model}", "port": 8080}
        # the rest of the restricted standard, for every pod: test_reliability
        assert spec["securityContext"]["runAsUser"] == 10001
        assert container["securityContext"]["readOnlyRootFilesystem"]
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]  # noqa: S108
        assert "STORAGE_URI" not in {e["name"] for e in container["env"]}  # baked model: no storage initializer
        assert (spec["minReplicas"], spec["maxReplicas"], spec["scaleMetric"]) == (1, 3, "cpu")


def test_gpu_scenario_puts_the_chatbot_on_a_gpu_node(helm):
    services = of_kind(render(helm, "-f", str(CHART / "ci" / "gpu-values.yaml")), "InferenceService")
    chatbot, extractor = services["simplechat-chatbot"], services["simplechat-extractor"]
    assert predictor(chatbot)["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert chatbot["spec"]["predictor"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert chatbot["spec"]["predictor"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert chatbot["spec"]["predictor"]["runtimeClassName"] == "nvidia"
    # GPU or nothing: cuda fails fast where torch sees no GPU, and the image carries CUDA wheels.
    assert "--device=cuda" in predictor(chatbot)["args"]
    assert predictor(chatbot)["image"].endswith(":0.1.0-cuda")
    assert "--device=cpu" in predictor(extractor)["args"] and predictor(extractor)["image"].endswith(":0.1.0")
    # No HPA on CPU utilisation for a GPU pod: KServe runs minReplicas and creates none.
    assert chatbot["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "none"
    assert chatbot["spec"]["predictor"]["maxReplicas"] == chatbot["spec"]["predictor"]["minReplicas"]
    assert "scaleMetric" not in chatbot["spec"]["predictor"]
    assert "serving.kserve.io/autoscalerClass" not in extractor["metadata"]["annotations"]
    assert "nvidia.com/gpu" not in predictor(extractor)["resources"].get("limits", {})
    assert "nodeSelector" not in extractor["spec"]["predictor"]


def test_hub_scenario_downloads_dialogpt_medium(helm):
    services = of_kind(render(helm, "-f", str(CHART / "ci" / "hub-values.yaml")), "InferenceService")
    env = predictor(services["simplechat-chatbot"])["env"]
    assert {"name": "STORAGE_URI", "value": "hf://microsoft/DialoGPT-medium"} in env
    assert predictor(services["simplechat-chatbot"])["image"] == "ghcr.io/simplechat/simplechat-chatbot:0.1.0"
    # The hub id is the name the chat shows for the model that answers.
    assert "--model_id=microsoft/DialoGPT-medium" in predictor(services["simplechat-chatbot"])["args"]
    assert not any(a.startswith("--model_id") for a in predictor(services["simplechat-extractor"])["args"])
    baked = of_kind(render(helm), "InferenceService")["simplechat-chatbot"]
    assert not any(a.startswith("--model_id") for a in predictor(baked)["args"])  # its card names it


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "unknownKey=1"], "additional properties 'unknownKey' not allowed"),
        (["--set", "chatbot.model.source=cloud"], "/chatbot/model/source"),
        (["--set", "extractor.model.source=uri"], "extractor.model.storageUri is required"),
        (["--set", "image.pullPolicy=Sometimes"], "/image/pullPolicy"),
    ],
)
def test_bad_values_are_refused(helm, args, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        render(helm, *args)


def ui_calls() -> list[str]:
    """The API paths app.js calls, relative to the page: its API constants."""
    app = (ROOT / "frontend" / "app.js").read_text(encoding="utf-8")
    block = re.search(r"const API = \{(.*?)\};", app, flags=re.DOTALL).group(1)
    return ["/" + path for path in re.findall(r'"(api/[^"]+)"', block)]


def routed_service(ingresses: dict[str, dict], path: str) -> tuple[str, str] | None:
    """The (service, upstream path) ingress-nginx would pick: regex paths first (as `~*`
    locations, prefix-anchored), then the longest Prefix path."""
    regex, prefix = [], []
    for ingress in ingresses.values():
        rewrite = ingress["metadata"].get("annotations", {}).get("nginx.ingress.kubernetes.io/rewrite-target")
        for rule in ingress["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                target = (p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"])
                (regex if p["pathType"] == "ImplementationSpecific" else prefix).append((p["path"], target, rewrite))
    for pattern, target, rewrite in regex:
        match = re.match(pattern, path, flags=re.IGNORECASE)
        if match:
            assert target[1] == 80
            return target[0], match.expand(rewrite.replace("$", "\\")) if rewrite else path
    for pattern, target, _ in sorted(prefix, key=lambda x: -len(x[0])):
        if path.startswith(pattern):
            assert target[1] == 80
            return target[0], path
    return None


def test_ingress_routes_what_the_ui_calls_to_the_right_predictor(helm):
    objects = render(helm)
    ingresses = of_kind(objects, "Ingress")
    calls = ui_calls()
    assert calls == ["/api/openai/v1/chat/completions", "/api/v1/models/chatbot", "/api/v1/models/extractor:predict"]
    expected = {
        "/api/v1/models/chatbot:predict": ("simplechat-chatbot-predictor", "/v1/models/chatbot:predict"),
        "/api/v1/models/extractor:predict": ("simplechat-extractor-predictor", "/v1/models/extractor:predict"),
        "/api/v2/models/extractor/infer": ("simplechat-extractor-predictor", "/v2/models/extractor/infer"),
        "/api/v1/models/chatbot": ("simplechat-chatbot-predictor", "/v1/models/chatbot"),
        "/api/chat": ("simplechat-chatbot-predictor", "/chat"),
        "/api/openai/v1/chat/completions": ("simplechat-chatbot-predictor", "/openai/v1/chat/completions"),
        "/api/openai/v1/models": ("simplechat-chatbot-predictor", "/openai/v1/models"),
        "/api/health": ("simplechat-chatbot-predictor", "/health"),
        "/api/extract-course-name/": ("simplechat-extractor-predictor", "/extract-course-name/"),
        "/api/extract-course-name": ("simplechat-extractor-predictor", "/extract-course-name"),
        "/": ("simplechat-ui", "/"),
        "/app.js": ("simplechat-ui", "/app.js"),
        "/api/v1/models/chatbotx:predict": ("simplechat-ui", "/api/v1/models/chatbotx:predict"),  # not a model
    }
    for path, target in expected.items():
        assert routed_service(ingresses, path) == target, path
    # every backend exists: the UI Service here, the predictors' Services made by KServe from the ISVC names
    services = set(of_kind(objects, "Service")) | {f"{n}-predictor" for n in of_kind(objects, "InferenceService")}
    assert {target[0] for target in expected.values()} <= services


def test_ports_match_what_the_images_listen_on(helm):
    objects = render(helm)
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^EXPOSE 8080$", dockerfile, flags=re.MULTILINE)
    for isvc in of_kind(objects, "InferenceService").values():
        assert predictor(isvc)["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        assert "--http_port=8080" in predictor(isvc)["args"]
    deployment = of_kind(objects, "Deployment")["simplechat-ui"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["NGINX_LISTEN"] == "8080" and container["ports"][0]["containerPort"] == 8080
    # KServe: <isvc>-predictor, port 80; fully qualified: nginx's resolver has no search path.
    assert env["CHATBOT_UPSTREAM"] == "simplechat-chatbot-predictor.simplechat.svc.cluster.local:80"
    assert env["EXTRACTOR_UPSTREAM"] == "simplechat-extractor-predictor.simplechat.svc.cluster.local:80"
    service = of_kind(objects, "Service")["simplechat-ui"]
    assert service["spec"]["ports"][0]["port"] == 80 and service["spec"]["ports"][0]["targetPort"] == "http"
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 10101


def test_network_policies_admit_only_ui_ingress_and_tests(helm):
    policies = of_kind(render(helm), "NetworkPolicy")
    chatbot = policies["simplechat-chatbot"]["spec"]["ingress"][0]["from"]
    components = [f["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for f in chatbot if "podSelector" in f]
    namespaces = [
        f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for f in chatbot
        if "namespaceSelector" in f
    ]
    assert components == ["ui", "test"] and namespaces == ["ingress-nginx"]


def test_helm_test_pod_calls_both_predictors(helm):
    (pod,) = of_kind(render(helm), "Pod").values()
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["args"][0]
    assert '"simplechat-chatbot-predictor", "chatbot"' in script
    assert '"simplechat-extractor-predictor", "extractor"' in script
    compile(script, "helm-test", "exec")  # valid python


def test_notes_show_the_urls(helm):
    result = subprocess.run(
        [helm, "install", "simplechat", str(CHART), "--dry-run=client", "-n", "simplechat"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "/api/v1/models/extractor:predict" in result.stdout and "helm test simplechat" in result.stdout


def test_manifests_are_in_sync_with_the_chart():
    result = subprocess.run(
        [str(ROOT / "scripts" / "render-manifests.sh"), "--stdout"], capture_output=True, text=True, check=True
    )
    committed = (ROOT / "manifests" / "simplechat.yaml").read_text(encoding="utf-8")
    assert result.stdout == committed, "manifests/ is out of date: run scripts/render-manifests.sh"


def test_values_are_all_documented():
    lines = (CHART / "values.yaml").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        leaf = re.match(r"^\s*[\w.]+:\s*\S", line) and not line.lstrip().startswith("#")
        if leaf and not re.match(r"^\s*(requests|limits):", line):
            comment_above = lines[i - 1].lstrip()
            assert comment_above.startswith("#"), f"values.yaml:{i + 1} has no `# --` comment: {line.strip()}"


def test_ui_upstreams_are_fully_qualified_and_only_for_deployed_models(helm):
    """The UI's nginx looks the predictors up per request, and its resolver has no search path: each
    deployed model's upstream is <isvc>-predictor.<namespace>.svc.<cluster domain>:80. A model turned
    off gets an empty upstream (no route; an absent variable would take the image's default)."""

    def upstreams(*args: str) -> dict[str, str]:
        objects = render(helm, *args)
        (container,) = of_kind(objects, "Deployment")["simplechat-ui"]["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e["value"] for e in container["env"] if e["name"].endswith("_UPSTREAM")}
        deployed = {f"{n.rsplit('-', 1)[1].upper()}_UPSTREAM": n for n in of_kind(objects, "InferenceService")}
        assert {name for name, value in env.items() if value} == set(deployed)
        for name, isvc in deployed.items():  # the Service KServe makes for that InferenceService
            assert env[name].startswith(f"{isvc}-predictor."), env[name]
        return env

    domain = "simplechat.svc.cluster.local"
    assert upstreams() == {
        "CHATBOT_UPSTREAM": f"simplechat-chatbot-predictor.{domain}:80",
        "EXTRACTOR_UPSTREAM": f"simplechat-extractor-predictor.{domain}:80",
    }
    assert upstreams("--set", "chatbot.enabled=false") == {
        "CHATBOT_UPSTREAM": "",
        "EXTRACTOR_UPSTREAM": f"simplechat-extractor-predictor.{domain}:80",
    }
    assert upstreams("--set", "extractor.enabled=false", "--set", "global.clusterDomain=corp.internal") == {
        "CHATBOT_UPSTREAM": "simplechat-chatbot-predictor.simplechat.svc.corp.internal:80",
        "EXTRACTOR_UPSTREAM": "",
    }
