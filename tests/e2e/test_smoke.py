"""End to end through the ingress of a live install (scripts/smoke.sh URL; conftest.py for settings).

The Kubernetes side first (KServe made Standard-mode predictors, the UI is Available), then every
public route: both models' V1 API, the seed routes, the UI's files, and /api's fallback.
"""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import MODELS, READY_TIMEOUT, Cluster, condition

# The first test waits (bounded) for the install, so it needs more than pyproject's default timeout.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(READY_TIMEOUT + 300)]


def ok_json(response: httpx.Response) -> dict:
    request = response.request
    assert response.status_code == 200, f"{request.method} {request.url}: {response.status_code} {response.text[:500]}"
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


# --- Kubernetes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_inference_service_is_ready(cluster: Cluster, model: str):
    isvc = cluster.inference_service(model)
    assert condition(isvc, "Ready") == "True", isvc.get("status")


@pytest.mark.parametrize("model", MODELS)
def test_predictor_is_a_standard_mode_deployment(cluster: Cluster, model: str):
    """Standard mode: a plain Deployment and Service named <isvc>-predictor (Knative would make revisions)."""
    name = f"{cluster.name(model)}-predictor"
    assert condition(cluster.deployment(name), "Available") == "True"
    assert 80 in [port["port"] for port in cluster.service(name)["spec"]["ports"]]


def test_ui_deployment_is_available(cluster: Cluster):
    deployment = cluster.deployment(cluster.name("ui"))
    assert condition(deployment, "Available") == "True"
    assert deployment["status"].get("readyReplicas", 0) >= 1


# --- KServe V1 protocol through /api ------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_model_readiness(http: httpx.Client, model: str):
    assert ok_json(http.get(f"/api/v1/models/{model}")) == {"name": model, "ready": True}


def test_chatbot_predict(http: httpx.Client):
    body = ok_json(http.post("/api/v1/models/chatbot:predict", json={"instances": [{"message": "hi"}]}))
    [prediction] = body["predictions"]
    assert isinstance(prediction["response"], str) and prediction["response"].strip()
    assert prediction["history"] == ["hi", prediction["response"]]


def test_extractor_predict(http: httpx.Client):
    body = ok_json(
        http.post("/api/v1/models/extractor:predict", json={"instances": [{"text": "I loved Organic Chemistry"}]})
    )
    [prediction] = body["predictions"]
    [course] = prediction["courses"]
    assert (course["text"], course["start"], course["end"]) == ("Organic Chemistry", 8, 25)
    assert 0 < course["score"] <= 1


# --- the tutorials' seed routes -----------------------------------------------------------------


def test_seed_chat(http: httpx.Client):
    body = ok_json(http.post("/api/chat", json={"message": "hi"}))
    assert isinstance(body["response"], str) and body["response"].strip()
    assert body["history"] == ["hi", body["response"]]


def test_seed_health(http: httpx.Client):
    assert ok_json(http.get("/api/health"))["status"] == "healthy"


def test_seed_extract_course_name(http: httpx.Client):
    body = ok_json(http.post("/api/extract-course-name/", json={"text": "I am taking Linear Algebra"}))
    assert body["extracted_course_names"] == ["Linear Algebra"]


# --- the UI and routing -------------------------------------------------------------------------


def test_ui_page(http: httpx.Client):
    response = http.get("/")
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert "simplechat" in response.text


def test_ui_script(http: httpx.Client):
    response = http.get("/app.js")
    assert response.status_code == 200, response.text[:500]
    assert "javascript" in response.headers["content-type"]


def test_unknown_api_route_is_404(http: httpx.Client):
    """/api/... that names no model or seed route reaches no predictor and is not the UI page."""
    response = http.get("/api/no-such-route")
    assert response.status_code == 404, response.text[:500]
