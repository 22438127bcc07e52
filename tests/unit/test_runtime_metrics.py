"""The runtime's own metrics: every forward's size and time, the queue of an unbatched runtime."""

from __future__ import annotations

import asyncio
import threading

from prometheus_client import REGISTRY

from predictors.common.runtime import BATCHED, Runtime, RuntimeOptions


def sample(name: str, model: str) -> float:
    return REGISTRY.get_sample_value(name, {"model": model}) or 0.0


def test_batched_forwards_are_counted_with_their_size():
    runtime = Runtime("rt-batched", lambda items: [x * 2 for x in items], BATCHED)

    async def burst():
        return await asyncio.gather(*(runtime.infer([i, i]) for i in range(10)))

    assert asyncio.run(burst()) == [[2 * i, 2 * i] for i in range(10)]
    assert sample("simplechat_batch_size_sum", "rt-batched") == 20
    assert sample("simplechat_forward_seconds_count", "rt-batched") == sample(
        "simplechat_batch_size_count", "rt-batched"
    )
    assert sample("simplechat_batch_size_count", "rt-batched") < 10  # merged: fewer forwards than requests
    assert sample("simplechat_queue_wait_seconds_count", "rt-batched") == 10
    assert sample("simplechat_queue_depth", "rt-batched") == 0


def test_an_unbatched_request_queues_behind_the_forward_that_runs():
    release = threading.Event()
    started = threading.Event()

    def forward(items):
        started.set()
        release.wait(5)
        return items

    runtime = Runtime("rt-unbatched", forward, RuntimeOptions(batcher=None, request_timeout_s=None))

    async def scenario():
        first = asyncio.ensure_future(runtime.infer([1]))
        while not started.is_set():
            await asyncio.sleep(0.001)
        second = asyncio.ensure_future(runtime.infer([2]))
        await asyncio.sleep(0.05)
        waiting = sample("simplechat_queue_depth", "rt-unbatched")
        in_flight = sample("simplechat_requests_in_flight", "rt-unbatched")
        second.cancel()  # its client left before the thread took it: out of the queue too
        release.set()
        await first
        return waiting, in_flight

    assert asyncio.run(scenario()) == (1, 2)
    assert sample("simplechat_queue_depth", "rt-unbatched") == 0
    assert sample("simplechat_requests_in_flight", "rt-unbatched") == 0
