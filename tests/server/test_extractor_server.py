"""The extractor predictor over real HTTP on loopback: V1, V2, seed route, errors, liveness."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from kserve import InferenceRESTClient, RESTConfig

from tests.conftest import assert_ready_answers_during

SENTENCE = "This fall I am taking Introduction to Artificial Intelligence and Linear Algebra."


def predict(extractor, body, **kwargs) -> httpx.Response:
    return httpx.post(f"{extractor.url}/v1/models/extractor:predict", json=body, timeout=60, **kwargs)


def test_v1_finds_exactly_the_two_courses_with_exact_offsets(extractor):
    response = predict(extractor, {"instances": [{"text": SENTENCE}]})
    assert response.status_code == 200, response.text
    courses = response.json()["predictions"][0]["courses"]
    assert [(c["text"], c["start"], c["end"]) for c in courses] == [
        ("Introduction to Artificial Intelligence", 22, 61),
        ("Linear Algebra", 66, 80),
    ]
    for course in courses:
        assert SENTENCE[course["start"] : course["end"]] == course["text"]
        assert 0.5 < course["score"] <= 1.0


def test_body_without_json_content_type_is_accepted(extractor):
    # What a bare `curl -d '{...}'` sends: application/x-www-form-urlencoded.
    response = httpx.post(
        f"{extractor.url}/v1/models/extractor:predict",
        content=json.dumps({"instances": [SENTENCE]}),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert [c["text"] for c in response.json()["predictions"][0]["courses"]] == [
        "Introduction to Artificial Intelligence",
        "Linear Algebra",
    ]


def test_invalid_json_without_content_type_is_a_400(extractor):
    response = httpx.post(
        f"{extractor.url}/v1/models/extractor:predict",
        content=b"{not json",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


def test_batch_keeps_order_and_bare_strings_work(extractor):
    texts = ["I loved Organic Chemistry", "The dining hall is closed today.", {"text": SENTENCE}]
    predictions = predict(extractor, {"instances": texts}).json()["predictions"]
    assert len(predictions) == 3
    assert [c["text"] for c in predictions[0]["courses"]] == ["Organic Chemistry"]
    assert predictions[1]["courses"] == []
    assert len(predictions[2]["courses"]) == 2


def test_long_text_beyond_one_window_finds_courses_at_both_ends(extractor, extractor_dir):
    from transformers import AutoTokenizer

    filler = " The weather was nice and we walked around campus for a while." * 28
    text = "I am taking Linear Algebra." + filler + " Next term I will take Organic Chemistry."
    assert len(text) <= 2000
    tokenizer = AutoTokenizer.from_pretrained(extractor_dir)
    assert len(tokenizer(text)["input_ids"]) > 2 * tokenizer.model_max_length  # three windows at least
    courses = predict(extractor, {"instances": [text]}).json()["predictions"][0]["courses"]
    names = [c["text"] for c in courses]
    assert "Linear Algebra" in names and "Organic Chemistry" in names
    assert all(text[c["start"] : c["end"]] == c["text"] for c in courses)


def test_v2_infer_returns_json_spans_and_the_request_id(extractor):
    body = {
        "id": "req-42",
        "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": [SENTENCE, "nothing here"]}],
    }
    response = httpx.post(f"{extractor.url}/v2/models/extractor/infer", json=body, timeout=60)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["id"] == "req-42"
    (output,) = result["outputs"]
    assert output["name"] == "courses" and output["datatype"] == "BYTES" and output["shape"] == [2]
    first, second = (json.loads(doc) for doc in output["data"])
    assert [c["text"] for c in first] == ["Introduction to Artificial Intelligence", "Linear Algebra"]
    assert second == []


def test_v2_without_id_gets_one(extractor):
    body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["I loved Organic Chemistry"]}]}
    result = httpx.post(f"{extractor.url}/v2/models/extractor/infer", json=body, timeout=60).json()
    assert result["id"]


def test_seed_route_speaks_the_tutorial_contract(extractor):
    response = httpx.post(
        f"{extractor.url}/extract-course-name/", json={"text": "Introduction to Artificial Intelligence"}, timeout=60
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"extracted_course_names": ["Introduction to Artificial Intelligence"]}


def test_readiness_and_liveness(extractor):
    assert httpx.get(f"{extractor.url}/v1/models/extractor").json() == {"name": "extractor", "ready": True}
    assert httpx.get(f"{extractor.url}/").json() == {"status": "alive"}
    assert httpx.get(f"{extractor.url}/v2/models/extractor/ready").status_code == 200


def test_kserve_sdk_client_round_trip(extractor):
    async def call():
        client = InferenceRESTClient(RESTConfig(protocol="v1", retries=1, timeout=60))
        try:
            return await client.infer(extractor.url, {"instances": [SENTENCE]}, model_name="extractor")
        finally:
            await client._client.aclose()

    result = asyncio.run(call())
    assert [c["text"] for c in result["predictions"][0]["courses"]] == [
        "Introduction to Artificial Intelligence",
        "Linear Algebra",
    ]


BAD_V1 = [
    pytest.param(b"{not json", "Unrecognized request format", id="invalid-json"),
    pytest.param([1, 2], "JSON object", id="not-an-object"),
    pytest.param({"inputs": ["x"]}, '"instances"', id="no-instances"),
    pytest.param({"instances": "I loved Organic Chemistry"}, "must be a list", id="instances-not-list"),
    pytest.param({"instances": []}, "empty", id="instances-empty"),
    pytest.param({"instances": [{"text": 42}]}, "instances[0].text", id="text-not-string"),
    pytest.param({"instances": [None]}, "instances[0]", id="instance-null"),
    pytest.param({"instances": [{"text": ""}]}, "text is empty", id="text-empty"),
    pytest.param({"instances": [{"text": "   \n"}]}, "text is empty", id="text-blank"),
    pytest.param({"instances": [{"txt": "Linear Algebra"}]}, "instances[0].text", id="misspelt-field"),
    pytest.param({"instances": ["x" * 2001]}, "at most 2000", id="text-too-long"),
    pytest.param({"instances": ["Linear Algebra"] * 65}, "at most 64", id="too-many-instances"),
]


@pytest.mark.parametrize(("body", "message"), BAD_V1)
def test_bad_v1_input_is_a_400_saying_what_is_wrong(extractor, body, message):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.post(
        f"{extractor.url}/v1/models/extractor:predict",
        content=content,
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([{"name": "words", "shape": [1], "datatype": "BYTES", "data": ["x"]}], '"text"'),
        ([{"name": "text", "shape": [1], "datatype": "INT32", "data": [1]}], "BYTES"),
        ([{"name": "text", "shape": [1], "datatype": "BYTES", "data": [""]}], "text is empty"),
    ],
)
def test_bad_v2_input_is_a_400(extractor, inputs, message):
    response = httpx.post(f"{extractor.url}/v2/models/extractor/infer", json={"inputs": inputs}, timeout=60)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": 3}, {"text": "y" * 2001}])
def test_bad_seed_input_is_a_400(extractor, body):
    response = httpx.post(f"{extractor.url}/extract-course-name/", json=body, timeout=60)
    assert response.status_code == 400, response.text
    assert "error" in response.json()


def test_unknown_model_is_a_404(extractor):
    response = httpx.post(f"{extractor.url}/v1/models/nope:predict", json={"instances": ["x"]})
    assert response.status_code == 404


def test_health_answers_while_a_long_batch_runs(extractor):
    big = {"instances": [("I am taking Linear Algebra and Organic Chemistry. " * 38)[:2000]] * 64}
    assert_ready_answers_during(extractor, lambda: predict(extractor, big).status_code)


def test_concurrent_requests_each_get_their_own_courses(extractor):
    """32 callers at once: the batcher merges them into shared forwards, and every caller still gets
    exactly the courses of its own text, as when it asks alone."""
    courses = [
        "Linear Algebra",
        "Organic Chemistry",
        "Microeconomics",
        "Art History",
        "Operating Systems",
        "Introduction to Psychology",
        "Data Structures",
        "Public Speaking",
    ]
    texts = [f"Request {i}: this term I signed up for {courses[i % len(courses)]} with friends." for i in range(32)]

    def ask(text: str) -> list[str]:
        response = httpx.post(f"{extractor.url}/v1/models/extractor:predict", json={"instances": [text]}, timeout=120)
        assert response.status_code == 200, response.text
        return [c["text"] for c in response.json()["predictions"][0]["courses"]]

    alone = [ask(t) for t in texts]
    with ThreadPoolExecutor(max_workers=32) as pool:
        together = list(pool.map(ask, texts))
    assert together == alone
    assert together[0] == ["Linear Algebra"] and together[1] == ["Organic Chemistry"]
