"""The predictors' own Prometheus metrics, read from /metrics the way Prometheus reads them:
batches under concurrency, the queue, and every refusal counted once by its reason."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Predictor, running_with

TEXT = "I loved Organic Chemistry and CS 61A this term, and Linear Algebra is next."


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, f"{name}{labels} not on /metrics"
    return samples[key]


async def hammer(url: str, clients: int, requests_each: int, body: dict | bytes) -> list[int]:
    """`clients` concurrent clients, each sending `requests_each` requests back to back."""
    statuses: list[int] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one_client() -> None:
            for _ in range(requests_each):
                if isinstance(body, bytes):
                    response = await client.post(url, content=body, headers={"Content-Type": "application/json"})
                else:
                    response = await client.post(url, json=body)
                statuses.append(response.status_code)

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return statuses


@pytest.fixture(scope="module")
def small_queue(extractor_dir: Path) -> Iterator[Predictor]:
    """An extractor that admits 4 requests at a time: 32 clients overload it at once."""
    yield from running_with("predictors.extractor", "extractor", extractor_dir, "--max_queue", "4")


def test_32_concurrent_clients_are_batched_and_the_queue_is_measured(extractor):
    before = scrape(extractor.url)
    body = {"instances": [{"text": TEXT}]}
    statuses = asyncio.run(hammer(f"{extractor.url}/v1/models/extractor:predict", 32, 8, body))
    assert set(statuses) == {200}
    after = scrape(extractor.url)

    def delta(name: str) -> float:
        return value(after, name, model="extractor") - value(before, name, model="extractor")

    batches, items = delta("simplechat_batch_size_count"), delta("simplechat_batch_size_sum")
    assert items == len(statuses)  # one item per request, each in exactly one forward
    assert items / batches > 1, f"mean batch size {items / batches:.2f} under 32 clients"
    assert delta("simplechat_forward_seconds_count") == batches
    assert delta("simplechat_queue_wait_seconds_count") == len(statuses)  # each request waited once
    assert delta("simplechat_request_duration_seconds_count") == len(statuses)
    # Idle again: nothing queued or in flight, and every refusal reason is a series already.
    assert value(after, "simplechat_queue_depth", model="extractor") == 0
    assert value(after, "simplechat_requests_in_flight", model="extractor") == 0
    for reason in ("queue_full", "deadline", "invalid_input"):
        value(after, "simplechat_rejections_total", model="extractor", reason=reason)


def test_every_503_the_clients_saw_is_one_queue_full_rejection(small_queue):
    before = value(scrape(small_queue.url), "simplechat_rejections_total", model="extractor", reason="queue_full")
    body = {"instances": [{"text": TEXT}] * 8}
    statuses = asyncio.run(hammer(f"{small_queue.url}/v1/models/extractor:predict", 32, 4, body))
    refused = statuses.count(503)
    assert refused > 0 and statuses.count(200) > 0, statuses
    assert set(statuses) == {200, 503}
    after = value(scrape(small_queue.url), "simplechat_rejections_total", model="extractor", reason="queue_full")
    assert after - before == refused


def test_input_errors_are_counted_for_their_model_on_every_route(extractor):
    before = value(scrape(extractor.url), "simplechat_rejections_total", model="extractor", reason="invalid_input")
    bad = [
        ("/v1/models/extractor:predict", b'{"instances": []}'),  # 400
        ("/v1/models/extractor:predict", b"{not json"),  # 400
        ("/v2/models/extractor/infer", b'{"inputs": []}'),  # 400
        ("/extract-course-name", b'{"text": ""}'),  # the tutorial's route: 400
    ]
    with httpx.Client(base_url=extractor.url, timeout=30) as client:
        statuses = [
            client.post(path, content=body, headers={"Content-Type": "application/json"}).status_code
            for path, body in bad
        ]
        # A model that is not served must not become a label value.
        assert client.post("/v1/models/nosuch:predict", content=b"{}").status_code == 404
    assert all(400 <= s < 500 for s in statuses), statuses
    samples = scrape(extractor.url)
    after = value(samples, "simplechat_rejections_total", model="extractor", reason="invalid_input")
    assert after - before == len(bad)
    assert not [key for key in samples if ("model", "nosuch") in key[1]]


@pytest.fixture(scope="module")
def tight_deadline(extractor_dir: Path) -> Iterator[Predictor]:
    """An extractor whose deadline is far below one forward of 16 texts."""
    yield from running_with("predictors.extractor", "extractor", extractor_dir, "--request_timeout_s", "0.001")


def test_a_missed_deadline_is_counted(tight_deadline):
    body = {"instances": [{"text": TEXT}] * 16}
    statuses = asyncio.run(hammer(f"{tight_deadline.url}/v1/models/extractor:predict", 4, 2, body))
    samples = scrape(tight_deadline.url)
    assert statuses.count(504) > 0
    assert value(samples, "simplechat_rejections_total", model="extractor", reason="deadline") == statuses.count(504)
