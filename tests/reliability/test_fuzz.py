"""Property-based fuzzing of every route of both predictors: whatever arrives, no 5xx, every error
is JSON, and the server's memory stays flat when the same inputs come again."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.figures import record

EXAMPLES = 150  # per route and pass
MEMORY_SLACK_MB = 40  # allocator noise; a leak of even 1 kB per request over the pass would show

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
huge_text = st.builds(lambda char, n: char * n, st.characters(), st.integers(1900, 120_000))
texts = st.text(max_size=60) | huge_text | st.just("") | st.just("I loved Organic Chemistry")
instance_lists = st.lists(texts | st.fixed_dictionaries({"text": texts | json_values}) | json_values, max_size=70)
chat_instances = st.lists(
    st.fixed_dictionaries(
        {"message": texts | json_values},
        optional={
            "history": st.lists(texts, max_size=3) | json_values,
            "max_new_tokens": st.integers(-5, 300) | json_values,
            "temperature": json_values,
            "top_p": json_values,
            "do_sample": json_values,
            "surprise": json_values,
        },
    ),
    max_size=3,
)
v2_inputs = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["text", "message", "input-0"]) | st.text(max_size=8),
            "shape": st.lists(st.integers(-2, 70), max_size=3),
            "datatype": st.sampled_from(["BYTES", "FP32", "INT64", "BOOL"]) | st.text(max_size=5),
            "data": st.lists(texts | json_values, max_size=5) | json_values,
        }
    ),
    max_size=3,
)


def body(shapes: st.SearchStrategy) -> st.SearchStrategy[tuple[bytes, str | None]]:
    """(raw body, content type): JSON of the right and wrong shapes, raw bytes, broken JSON."""
    as_json = (shapes | json_values).map(lambda value: json.dumps(value).encode())
    raw = st.binary(max_size=300) | st.just(b'{"instances": [') | st.just(b"\xff\xfe{}")
    content_type = st.sampled_from(["application/json", None, "text/plain", "application/octet-stream"])
    return st.tuples(as_json | raw, content_type)


def fuzz_route(client: httpx.Client, path: str, shapes: st.SearchStrategy, seen: list[int]) -> None:
    """EXAMPLES derandomized bodies (the same ones on every call) to POST `path`."""

    @settings(
        max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(body(shapes))
    def case(sent: tuple[bytes, str | None]) -> None:
        payload, content_type = sent
        headers = {"content-type": content_type} if content_type else {}
        response = client.post(path, content=payload, headers=headers)
        seen.append(response.status_code)
        assert response.status_code < 500, f"{response.status_code} for {payload[:200]!r}: {response.text[:300]}"
        if response.status_code >= 400:
            error = response.json()  # raises if not JSON
            assert isinstance(error, dict) and (error.get("error") or error.get("detail")), response.text[:300]

    case()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def fuzz_server(predictor, routes: dict[str, st.SearchStrategy], gets: list[str]) -> dict:
    statuses: list[int] = []
    with httpx.Client(base_url=predictor.url, timeout=60) as client:
        passes: list[float] = []
        for _ in range(2):  # the second pass repeats the first one's inputs: memory must not grow
            for path, shapes in routes.items():
                fuzz_route(client, path, shapes, statuses)
            for path in gets:
                assert client.get(path).status_code == 200
            passes.append(rss_mb(predictor.process.pid))
    growth = passes[1] - passes[0]
    assert growth < MEMORY_SLACK_MB, f"RSS grew {growth:.0f} MB over a repeat of the same {len(statuses) // 2} requests"
    return {
        "cases": len(statuses),
        "statuses": sorted(set(statuses)),
        "rss_mb": [round(m) for m in passes],
        "rss_growth_mb": round(growth, 1),
    }


def test_fuzz_every_extractor_route(extractor):
    routes = {
        "/v1/models/extractor:predict": st.fixed_dictionaries({"instances": instance_lists | json_values}),
        "/v2/models/extractor/infer": st.fixed_dictionaries(
            {"inputs": v2_inputs | json_values}, optional={"id": json_values}
        ),
        "/extract-course-name/": st.fixed_dictionaries({"text": texts | json_values}, optional={"x": json_values}),
        "/v1/models/nonexistent:predict": st.fixed_dictionaries({"instances": instance_lists}),
    }
    figures = fuzz_server(extractor, routes, ["/", "/v2/health/live", "/v1/models/extractor"])
    record("fuzz_extractor", **figures)


def test_fuzz_every_chatbot_route(chatbot):
    routes = {
        "/v1/models/chatbot:predict": st.fixed_dictionaries({"instances": chat_instances | json_values}),
        "/v2/models/chatbot/infer": st.fixed_dictionaries(
            {"inputs": v2_inputs | json_values}, optional={"id": json_values, "parameters": json_values}
        ),
        "/chat": st.fixed_dictionaries(
            {"message": texts | json_values}, optional={"history": json_values, "max_length": json_values}
        ),
    }
    figures = fuzz_server(chatbot, routes, ["/", "/health", "/v1/models/chatbot"])
    record("fuzz_chatbot", **figures)


def test_routes_that_cannot_work_here_are_404_and_undocumented(extractor):
    with httpx.Client(base_url=extractor.url, timeout=10) as client:
        for method, path in (
            ("POST", "/v2/repository/models/extractor/unload"),
            ("POST", "/v2/repository/models/extractor/load"),
            ("GET", "/v2/models/extractor/versions/1/ready"),
            ("POST", "/v1/models/extractor:explain"),
        ):
            response = client.request(method, path, json={"instances": ["x"]})
            assert response.status_code == 404 and "not served" in response.json()["error"], path
        # unload did nothing: the model still answers
        assert (
            client.post("/v1/models/extractor:predict", json={"instances": ["I loved Organic Chemistry"]}).json()[
                "predictions"
            ][0]["courses"][0]["text"]
            == "Organic Chemistry"
        )
        infer = client.post(
            "/v2/models/extractor/infer?model_version=3",
            json={"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["x"]}]},
        )
        assert infer.status_code == 404
        paths = client.get("/openapi.json").json()["paths"]
        assert not [p for p in paths if "repository" in p or "versions" in p or "explain" in p]
        assert "/v1/models/{model_name}:predict" in paths and "/extract-course-name/" in paths
