"""`python -m predictors` (what `make run` starts): both models, their seed routes and the UI on one port,
with the cluster's URL layout (frontend/nginx.conf) as well as the predictors' own."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import ROOT


def test_both_models_answer_v1(stack):
    courses = httpx.post(
        f"{stack}/v1/models/extractor:predict", json={"instances": ["I loved Organic Chemistry"]}, timeout=60
    ).json()["predictions"][0]["courses"]
    assert [c["text"] for c in courses] == ["Organic Chemistry"]
    reply = httpx.post(
        f"{stack}/v1/models/chatbot:predict", json={"instances": [{"message": "hi"}]}, timeout=60
    ).json()["predictions"][0]["response"]
    assert reply.strip()
    assert httpx.get(f"{stack}/v1/models").json() == {"models": ["extractor", "chatbot"]}


def test_seed_routes_of_both(stack):
    assert httpx.get(f"{stack}/health").json() == {"status": "healthy"}
    assert httpx.post(f"{stack}/chat", json={"message": "hi"}, timeout=60).json()["response"].strip()
    body = {"text": "I am taking Linear Algebra"}
    for path in ("/extract-course-name/", "/api/extract-course-name/", "/api/extract-course-name"):
        response = httpx.post(f"{stack}{path}", json=body, timeout=60)
        assert response.status_code == 200, path  # not a 307: a redirected POST often comes back a GET
        assert response.json()["extracted_course_names"] == ["Linear Algebra"]


def test_ui_is_served_at_the_root(stack):
    page = httpx.get(f"{stack}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text == (ROOT / "frontend" / "index.html").read_text(encoding="utf-8")
    for name, kind in (("app.js", "javascript"), ("styles.css", "text/css")):
        asset = httpx.get(f"{stack}/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"]
    assert httpx.get(f"{stack}/nginx.conf").status_code == 404  # only the UI's files are served


def test_api_prefix_routes_like_nginx(stack):
    body = b'{"instances":["I loved Organic Chemistry"]}'  # sent with no content type, as the acceptance curl
    response = httpx.post(f"{stack}/api/v1/models/extractor:predict", content=body, timeout=60)
    assert response.status_code == 200, response.text
    assert [c["text"] for c in response.json()["predictions"][0]["courses"]] == ["Organic Chemistry"]
    chat = httpx.post(f"{stack}/api/chat", json={"message": "hi"}, timeout=60).json()
    assert chat["response"].strip() and chat["history"] == ["hi", chat["response"]]
    assert httpx.get(f"{stack}/api/health").json() == {"status": "healthy"}
    assert httpx.get(f"{stack}/api/v1/models/chatbot").status_code == 200
    assert httpx.get(f"{stack}/api/no-such-route").status_code == 404


def nginx_headers() -> dict[str, str]:
    conf = (ROOT / "frontend" / "nginx.conf").read_text(encoding="utf-8")
    return {k.lower(): v for k, v in re.findall(r'add_header\s+(\S+)\s+"([^"]*)"\s+always;', conf)}


@pytest.mark.parametrize("path", ["/", "/api/v1/models/extractor", "/api/no-such-route"])
def test_security_headers_match_nginx(stack, path):
    expected = nginx_headers()
    assert {"x-content-type-options", "content-security-policy", "referrer-policy"} <= expected.keys()
    headers = httpx.get(f"{stack}{path}").headers
    assert {k: headers.get(k) for k in expected} == expected
