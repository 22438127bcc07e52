"""Cross-request dynamic batching: concurrent requests share one model call.

A sync model call on kserve's event loop serves requests one by one; here every request puts its
items on a queue and awaits its own results, and one worker turns whatever has gathered into a
single call on the model's thread. Rules:
- a request's items stay together, in order, and it gets exactly its own results back;
- a batch never holds more than `max_batch_size` items (the request limit, so any valid request fits);
- a batch takes whatever is queued, then waits for company only while it holds fewer items than
  the previous batch did, and at most `max_latency_ms` (0: never waits). Steady lone requests
  (previous batch: one item) go at once; under concurrency a batch fills as soon as as many
  callers as last time are back, and a lone request after a burst waits at most the limit;
- if a batch fails, its requests are retried one by one, so an error reaches only its own request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Generic, TypeVar

from kserve.logging import logger

from predictors.common.metrics import ModelMetrics

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class _Request(Generic[In, Out]):
    items: list[In]
    future: asyncio.Future[list[Out]]
    arrived: float = 0.0  # perf_counter() at submit: its queue wait ends when its batch starts


class DynamicBatcher(Generic[In, Out]):
    def __init__(
        self,
        process: Callable[[list[In]], Sequence[Out]],
        executor: Executor,
        *,
        max_batch_size: int,
        max_latency_ms: float,
        metrics: ModelMetrics | None = None,
    ) -> None:
        if max_batch_size < 1 or max_latency_ms < 0:
            raise ValueError("max_batch_size must be ≥ 1 and max_latency_ms ≥ 0")
        self.process = process
        self.executor = executor
        self.max_batch_size = max_batch_size
        self.max_latency = max_latency_ms / 1000
        self.metrics = metrics  # queue depth and wait; the runtime times the forward itself
        self._queue: asyncio.Queue[_Request[In, Out]] | None = None
        self._worker: asyncio.Task | None = None

    async def submit(self, items: Sequence[In]) -> list[Out]:
        """The outputs for `items`, computed in one model call with other requests' items."""
        if not items:
            return []
        if len(items) > self.max_batch_size:
            raise ValueError(f"{len(items)} items; a batch holds at most {self.max_batch_size}")
        if self._worker is None or self._worker.done():  # created on the serving loop, on first use
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._serve(), name="dynamic-batcher")
        request = _Request(list(items), asyncio.get_running_loop().create_future(), time.perf_counter())
        self._queue.put_nowait(request)
        if self.metrics:
            self.metrics.queue_depth.inc()
        return await request.future

    async def _serve(self) -> None:
        held: _Request | None = None  # a request that did not fit the last batch goes first next
        expected = 1  # items in the previous batch: how much company is worth waiting for
        loop = asyncio.get_running_loop()
        while True:
            first = held or await self._queue.get()
            held = None
            batch, size = [first], len(first.items)
            deadline = loop.time() + self.max_latency
            while size < self.max_batch_size:
                wait = deadline - loop.time() if size < expected else 0
                try:
                    nxt = self._queue.get_nowait() if wait <= 0 else await asyncio.wait_for(self._queue.get(), wait)
                except (asyncio.QueueEmpty, TimeoutError):
                    break
                if size + len(nxt.items) > self.max_batch_size:
                    held = nxt
                    break
                batch.append(nxt)
                size += len(nxt.items)
            expected = size
            if self.metrics:
                for request in batch:  # out of the queue, gone callers too: each counted in once
                    self.metrics.dequeued(request.arrived)
            live = [r for r in batch if not r.future.done()]  # a caller may have gone away
            if live:
                await self._run(live)

    async def _run(self, batch: list[_Request[In, Out]]) -> None:
        items = [item for request in batch for item in request.items]
        try:
            outputs = await asyncio.get_running_loop().run_in_executor(self.executor, self.process, items)
            if len(outputs) != len(items):
                raise RuntimeError(f"model returned {len(outputs)} outputs for {len(items)} inputs")
        except Exception as exc:  # noqa: BLE001 - handed to the callers, never lost
            if len(batch) > 1:
                logger.warning("batch of %d requests failed (%s); retrying them one by one", len(batch), exc)
                for request in batch:
                    await self._run([request])
            elif not batch[0].future.done():
                batch[0].future.set_exception(exc)
            return
        start = 0
        for request in batch:
            end = start + len(request.items)
            if not request.future.done():
                request.future.set_result(list(outputs[start:end]))
                # One caller's response at a time, with the loop's I/O in between: a batch of 64
                # answered in one go held new requests (and fast 503s) back for tens of ms.
                await asyncio.sleep(0)
            start = end
