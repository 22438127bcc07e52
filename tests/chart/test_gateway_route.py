"""`route.kind: HTTPRoute`: the Gateway API alternative to the ingress-nginx Ingress.

The HTTPRoute is validated against the Gateway API's own CRD schema (v1.6.1, standard channel,
tests/data/crds/), and its rules are run the way the Gateway API specifies them (Exact and
PathPrefix by whole path segments, the most specific match first, URLRewrite) to check every
path the UI and the tutorials call lands on the right predictor path."""

from __future__ import annotations

import pytest
import yaml

from tests.chart.conftest import of_kind, render
from tests.chart.test_chart import closed, validator
from tests.conftest import ROOT

HTTPROUTE_CRD = ROOT / "tests" / "data" / "crds" / "gateway.networking.k8s.io_httproutes.yaml"
GATEWAY = [
    "--set",
    "route.kind=HTTPRoute",
    "--set",
    "route.httpRoute.parentRefs[0].name=web",
    "--set",
    "route.httpRoute.parentRefs[0].namespace=gateway",
]

# What a browser or curl sends -> (predictor, the path the predictor must see); None: the UI.
CALLS = {
    "/api/v1/models/chatbot": ("chatbot", "/v1/models/chatbot"),
    "/api/v1/models/chatbot:predict": ("chatbot", "/v1/models/chatbot:predict"),
    "/api/v2/models/chatbot/infer": ("chatbot", "/v2/models/chatbot/infer"),
    "/api/v2/models/chatbot/ready": ("chatbot", "/v2/models/chatbot/ready"),
    "/api/chat": ("chatbot", "/chat"),
    "/api/openai/v1/chat/completions": ("chatbot", "/openai/v1/chat/completions"),
    "/api/openai/v1/models": ("chatbot", "/openai/v1/models"),
    "/api/health": ("chatbot", "/health"),
    "/api/v1/models/extractor:predict": ("extractor", "/v1/models/extractor:predict"),
    "/api/v2/models/extractor/infer": ("extractor", "/v2/models/extractor/infer"),
    "/api/extract-course-name/": ("extractor", "/extract-course-name/"),
    "/api/extract-course-name": ("extractor", "/extract-course-name"),
    "/": (None, "/"),
    "/app.js": (None, "/app.js"),
}


@pytest.fixture(scope="module")
def httproute_schema():
    crd = yaml.safe_load(HTTPROUTE_CRD.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return validator(closed(version["schema"]["openAPIV3Schema"]))  # a misspelt field fails, not vanishes


def segments_prefix(prefix: str, path: str) -> bool:
    """Gateway API PathPrefix: matches whole `/`-separated elements only."""
    prefix = prefix.rstrip("/") or "/"
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


def route(httproute: dict, path: str) -> tuple[str, str] | None:
    """(backend Service, rewritten path) for `path`: Exact beats PathPrefix, longer prefixes first."""
    candidates = []
    for rule in httproute["spec"]["rules"]:
        for match in rule["matches"]:
            kind, value = match["path"]["type"], match["path"]["value"]
            if (kind == "Exact" and path == value) or (kind == "PathPrefix" and segments_prefix(value, path)):
                candidates.append((kind == "Exact", len(value), rule, value))
    if not candidates:
        return None
    exact, _, rule, value = max(candidates, key=lambda c: (c[0], c[1]))
    rewritten = path
    for f in rule.get("filters", []):
        rewrite = f["urlRewrite"]["path"]
        if rewrite["type"] == "ReplaceFullPath":
            rewritten = rewrite["replaceFullPath"]
        else:
            rewritten = rewrite["replacePrefixMatch"].rstrip("/") + path[len(value.rstrip("/")) :]
    return rule["backendRefs"][0]["name"], rewritten


def test_the_httproute_validates_against_the_gateway_api_crd(helm, httproute_schema):
    objects = render(helm, *GATEWAY)
    routes = of_kind(objects, "HTTPRoute")
    assert list(routes) == ["simplechat"]
    httproute_schema.validate(routes["simplechat"])
    assert routes["simplechat"]["spec"]["parentRefs"] == [{"name": "web", "namespace": "gateway"}]
    assert not of_kind(objects, "Ingress")  # one way in, not two


def test_every_api_path_reaches_its_predictor_with_api_stripped(helm):
    httproute = of_kind(render(helm, *GATEWAY), "HTTPRoute")["simplechat"]
    for path, (model, upstream) in CALLS.items():
        service = f"simplechat-{model}-predictor" if model else "simplechat-ui"
        assert route(httproute, path) == (service, upstream), path
    # Nothing else of a predictor is exposed: other /api paths fall through to the UI (its 404).
    assert route(httproute, "/api/v1/models/chatbot:explain")[0] == "simplechat-ui"
    assert route(httproute, "/api/metrics")[0] == "simplechat-ui"


def test_a_disabled_model_gets_no_route(helm, httproute_schema):
    httproute = of_kind(render(helm, *GATEWAY, "--set", "chatbot.enabled=false"), "HTTPRoute")["simplechat"]
    httproute_schema.validate(httproute)
    backends = {ref["name"] for rule in httproute["spec"]["rules"] for ref in rule["backendRefs"]}
    assert backends == {"simplechat-extractor-predictor", "simplechat-ui"}


def test_an_httproute_needs_a_gateway(helm):
    with pytest.raises(AssertionError, match="route.httpRoute.parentRefs is required"):
        render(helm, "--set", "route.kind=HTTPRoute")


def test_the_route_model_check_follows_segment_matching():
    """The matcher above, on the case the chart's Exact V1 rules exist for."""
    assert segments_prefix("/api/v2/models/chatbot", "/api/v2/models/chatbot/infer")
    assert not segments_prefix("/api/v1/models/chatbot", "/api/v1/models/chatbot:predict")
    assert not segments_prefix("/api/v2/models/chat", "/api/v2/models/chatbot/infer")
