"""The request deadline: a request past --request_timeout_s gets a JSON 504, the server stays healthy."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Predictor, running_with
from tests.reliability.figures import record

TIMEOUT_S = 0.5
LONG = "I am taking Linear Algebra and Organic Chemistry this fall, and the workload is heavy. " * 20


@pytest.fixture(scope="module")
def extractor(extractor_dir) -> Iterator[Predictor]:
    yield from running_with("predictors.extractor", "extractor", extractor_dir, "--request_timeout_s", str(TIMEOUT_S))


def test_a_request_past_its_deadline_gets_a_json_504_and_the_server_stays_healthy(extractor):
    predict = f"{extractor.url}/v1/models/extractor:predict"
    heavy = {"instances": [LONG[:1900]] * 64}  # seconds of work on this CPU, far past the deadline
    started = time.monotonic()
    response = httpx.post(predict, json=heavy, timeout=30)
    answered_in = time.monotonic() - started
    assert response.status_code == 504
    assert "request_timeout_s" in response.json()["error"]
    assert answered_in < TIMEOUT_S + 1.0  # the deadline, not the work, decides when the client hears

    # liveness and readiness answer while the abandoned forward finishes
    assert httpx.get(f"{extractor.url}/v2/health/live", timeout=2).status_code == 200
    assert httpx.get(f"{extractor.url}/v1/models/extractor", timeout=2).status_code == 200
    # and once it has, a normal request is served as usual
    deadline = time.monotonic() + 60
    while True:
        response = httpx.post(predict, json={"instances": ["I loved Organic Chemistry"]}, timeout=30)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        assert response.status_code == 504  # still behind the abandoned batch
        time.sleep(0.5)
    assert response.status_code == 200
    assert [c["text"] for c in response.json()["predictions"][0]["courses"]] == ["Organic Chemistry"]
    recovered_in = time.monotonic() - started
    record(
        "deadline",
        request_timeout_s=TIMEOUT_S,
        answered_504_in_s=round(answered_in, 2),
        served_again_after_s=round(recovered_in, 1),
    )


def test_a_request_that_timed_out_while_queued_never_runs(extractor):
    """Two heavy requests: the second waits behind the first, misses its deadline in the queue and
    is dropped, so the model is free again after one heavy batch, not two."""
    predict = f"{extractor.url}/v1/models/extractor:predict"
    heavy = {"instances": [LONG[:1900]] * 64}
    with httpx.Client(timeout=30) as a, httpx.Client(timeout=30) as b:
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first = pool.submit(a.post, predict, json=heavy)
            time.sleep(0.1)
            second = pool.submit(b.post, predict, json=heavy)
            assert first.result().status_code == 504 and second.result().status_code == 504
    one_batch = time.monotonic()
    while httpx.post(predict, json={"instances": ["hi"]}, timeout=30).status_code != 200:
        time.sleep(0.2)
    freed_after = time.monotonic() - one_batch
    single = time.monotonic()
    assert httpx.post(predict, json=heavy, timeout=30).status_code == 504
    while httpx.post(predict, json={"instances": ["hi"]}, timeout=30).status_code != 200:
        time.sleep(0.2)
    one_heavy = time.monotonic() - single
    assert freed_after < 1.6 * one_heavy + 1, (freed_after, one_heavy)
