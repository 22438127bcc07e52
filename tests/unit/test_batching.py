"""The cross-request batcher with a stand-in model: routing, size limit, per-request errors, latency."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from predictors.common.batching import DynamicBatcher


class Model:
    """Doubles numbers, slowly (so concurrent requests pile up); refuses negatives."""

    def __init__(self, seconds: float = 0.02) -> None:
        self.seconds = seconds
        self.calls: list[list[int]] = []
        self.threads: set[str] = set()

    def __call__(self, items: list[int]) -> list[int]:
        self.calls.append(list(items))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.seconds)
        if any(x < 0 for x in items):
            raise ValueError("negative input")
        return [2 * x for x in items]


def batcher(model: Model, max_batch_size: int = 8, max_latency_ms: float = 5) -> DynamicBatcher:
    return DynamicBatcher(
        model,
        ThreadPoolExecutor(1, thread_name_prefix="model"),
        max_batch_size=max_batch_size,
        max_latency_ms=max_latency_ms,
    )


def test_each_caller_gets_exactly_its_own_results():
    model = Model()
    b = batcher(model, max_batch_size=8)
    requests = [[100 * i + j for j in range(1 + i % 3)] for i in range(40)]

    async def main():
        return await asyncio.gather(*(b.submit(r) for r in requests))

    results = asyncio.run(main())
    assert results == [[2 * x for x in r] for r in requests]
    assert max(len(c) for c in model.calls) > 3  # requests really shared model calls
    assert len(model.calls) < len(requests)
    assert all(len(c) <= 8 for c in model.calls)  # never past the limit
    # a request's items stay together and in order inside a call
    for r in requests:
        assert any(c[i : i + len(r)] == r for c in model.calls for i in range(len(c)))
    assert model.threads == {"model_0"}  # the model runs on its own thread, never the event loop


def test_a_request_larger_than_the_limit_is_refused():
    b = batcher(Model(), max_batch_size=4)
    with pytest.raises(ValueError, match="at most 4"):
        asyncio.run(b.submit([1, 2, 3, 4, 5]))
    assert asyncio.run(b.submit([])) == []


def test_an_error_reaches_only_its_own_request():
    model = Model()
    b = batcher(model, max_batch_size=16)

    async def main():
        return await asyncio.gather(
            b.submit([1, 2]), b.submit([-1]), b.submit([3]), b.submit([-5, 4]), return_exceptions=True
        )

    good1, bad1, good2, bad2 = asyncio.run(main())
    assert good1 == [2, 4] and good2 == [6]
    assert isinstance(bad1, ValueError) and isinstance(bad2, ValueError)
    # tried together first, then one by one so only the bad requests fail
    assert model.calls == [[1, 2, -1, 3, -5, 4], [1, 2], [-1], [3], [-5, 4]]


@pytest.mark.parametrize("latency_ms", [0, 50])
def test_a_lone_request_waits_at_most_the_configured_latency(latency_ms):
    b = batcher(Model(seconds=0), max_latency_ms=latency_ms)

    async def lone():
        await b.submit([0])  # warm up: the worker task and the thread exist
        started = time.perf_counter()
        assert await b.submit([21]) == [42]
        return time.perf_counter() - started

    elapsed = asyncio.run(lone())
    assert elapsed < latency_ms / 1000 + 0.05, f"{latency_ms} ms allowed, took {elapsed * 1000:.0f} ms"


def test_steady_lone_requests_do_not_wait_for_company():
    b = batcher(Model(seconds=0), max_latency_ms=500)

    async def lone():
        await b.submit([0])  # a first lone request may wait: nothing is known yet
        timings = []
        for x in range(5):
            started = time.perf_counter()
            assert await b.submit([x]) == [2 * x]
            timings.append(time.perf_counter() - started)
        return timings

    timings = asyncio.run(lone())
    assert max(timings) < 0.1, f"a 500 ms wait was taken: {[round(t * 1000) for t in timings]} ms"


def test_after_a_shared_batch_the_next_waits_for_as_many_callers():
    model = Model(seconds=0.01)
    b = batcher(model, max_batch_size=16, max_latency_ms=300)

    async def main():
        await asyncio.gather(*(b.submit([i]) for i in range(4)))  # four callers share a call

        # the same four come back one by one, 20 ms apart: still one call, not four
        async def late(i):
            await asyncio.sleep(0.02 * i)
            return await b.submit([10 + i])

        return await asyncio.gather(*(late(i) for i in range(4)))

    assert asyncio.run(main()) == [[20], [22], [24], [26]]
    assert model.calls[-1] == [10, 11, 12, 13]


def test_a_caller_that_goes_away_does_not_disturb_the_others():
    model = Model(seconds=0.05)
    b = batcher(model)

    async def main():
        slow = asyncio.ensure_future(b.submit([1]))
        other = asyncio.ensure_future(b.submit([2]))
        await asyncio.sleep(0.01)
        slow.cancel()
        third = await b.submit([3])
        return await other, third

    assert asyncio.run(main()) == ([4], [6])
