"""`python -m predictors` (what `make run` starts): both models and their seed routes on one port."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.conftest import MODELS, ROOT, Predictor, free_port


@pytest.fixture(scope="module")
def stack():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "predictors", "--models", str(MODELS),
                                "--host", "127.0.0.1", "--http_port", str(port)], cwd=ROOT)
    extractor, chatbot = (Predictor(process, f"http://127.0.0.1:{port}", name) for name in ("extractor", "chatbot"))
    try:
        extractor.wait_ready()
        chatbot.wait_ready()
        yield extractor.url
    finally:
        assert extractor.stop() == 0  # Ctrl-C/SIGTERM stops it cleanly


def test_both_models_answer_v1(stack):
    courses = httpx.post(f"{stack}/v1/models/extractor:predict", json={"instances": ["I loved Organic Chemistry"]},
                         timeout=60).json()["predictions"][0]["courses"]
    assert [c["text"] for c in courses] == ["Organic Chemistry"]
    reply = httpx.post(f"{stack}/v1/models/chatbot:predict", json={"instances": [{"message": "hi"}]},
                       timeout=60).json()["predictions"][0]["response"]
    assert reply.strip()
    assert httpx.get(f"{stack}/v1/models").json() == {"models": ["extractor", "chatbot"]}


def test_seed_routes_of_both(stack):
    assert httpx.get(f"{stack}/health").json() == {"status": "healthy"}
    assert httpx.post(f"{stack}/chat", json={"message": "hi"}, timeout=60).json()["response"].strip()
    names = httpx.post(f"{stack}/extract-course-name/", json={"text": "I am taking Linear Algebra"},
                       timeout=60).json()["extracted_course_names"]
    assert names == ["Linear Algebra"]
