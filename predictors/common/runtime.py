"""Where a predictor's forward runs, shared by both models and by Ray mode.

    runtime = Runtime("extractor", forward, RuntimeOptions(batcher=dynamic_batcher(64, 5.0)))
    outputs = await runtime.infer(items)        # one output per item, in order

`infer` admits the request (queue bound and deadline: admission.py), then hands its items to
the batcher, which merges them with other requests' items into one `forward` call on the
inference thread (inference_thread.py); without a batcher each request is one call. The batcher
is passed in: our DynamicBatcher, Ray Serve's `@serve.batch` (ray_app.py) or none.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from predictors.common.admission import Admission
from predictors.common.batching import DynamicBatcher
from predictors.common.inference_thread import DEFAULT_NICE, inference_executor
from predictors.common.metrics import ModelMetrics

In = TypeVar("In")
Out = TypeVar("Out")


class Batcher(Protocol):
    async def submit(self, items: Sequence) -> list: ...


class BatcherFactory(Protocol):
    """(forward, inference thread, the model's metrics for its queue) -> batcher."""

    def __call__(
        self, forward: Callable[[list], Sequence], executor: Executor, metrics: ModelMetrics | None = None
    ) -> Batcher: ...


def dynamic_batcher(max_batch_size: int, max_latency_ms: float) -> BatcherFactory:
    def make(forward: Callable[[list], Sequence], executor: Executor, metrics: ModelMetrics | None = None) -> Batcher:
        return DynamicBatcher(
            forward, executor, max_batch_size=max_batch_size, max_latency_ms=max_latency_ms, metrics=metrics
        )

    return make


@dataclass(frozen=True)
class RuntimeOptions:
    """How requests reach the forward: batched or not, how many may wait, for how long."""

    batcher: BatcherFactory | None = None
    max_queue: int | None = 64  # None: unbounded (Ray Serve bounds its own queue)
    request_timeout_s: float | None = 30.0  # None or 0: no deadline
    inference_nice: int = DEFAULT_NICE


class Runtime(Generic[In, Out]):
    def __init__(
        self, name: str, forward: Callable[[list[In]], Sequence[Out]], options: RuntimeOptions = RuntimeOptions()
    ) -> None:
        self.admission = Admission(name, options.max_queue, options.request_timeout_s)
        self.metrics = self.admission.metrics
        self.forward = self._timed(forward)
        # One inference thread: forwards never block the event loop and never run concurrently;
        # below the event loop's priority, so 503s and health checks stay fast under load.
        self.executor = inference_executor(f"{name}-infer", options.inference_nice)
        self.batcher = options.batcher(self.forward, self.executor, self.metrics) if options.batcher else None

    async def infer(self, items: list[In]) -> list[Out]:
        """One output per item, admitted under the queue bound and the deadline."""
        return await self.admission(self._infer(items))

    async def admit(self, work: Coroutine[Any, Any, Out]) -> Out:
        """Admission for work that reaches the inference thread its own way (the chatbot's
        stream engine): the same queue bound and deadline as `infer`."""
        return await self.admission(work)

    def _timed(self, forward: Callable[[list[In]], Sequence[Out]]) -> Callable[[list[In]], Sequence[Out]]:
        """`forward`, its batch size and duration recorded (on the inference thread)."""

        def timed(items: list[In]) -> Sequence[Out]:
            started = time.perf_counter()
            try:
                return forward(items)
            finally:
                self.metrics.forwarded(len(items), time.perf_counter() - started)

        return timed

    async def _infer(self, items: list[In]) -> list[Out]:
        if self.batcher is not None:
            return list(await self.batcher.submit(items))
        # Unbatched: the request waits for the inference thread; that wait is its queue time.
        arrived, started = time.perf_counter(), False
        self.metrics.queue_depth.inc()

        def run() -> Sequence[Out]:
            nonlocal started
            started = True
            self.metrics.dequeued(arrived)
            return self.forward(items)

        try:
            return list(await asyncio.get_running_loop().run_in_executor(self.executor, run))
        finally:
            if not started:  # cancelled (its deadline) before the thread took it
                self.metrics.queue_depth.dec()


# The predictors' default: dynamically batched, at most 64 items per forward and 5 ms of waiting.
BATCHED = RuntimeOptions(batcher=dynamic_batcher(max_batch_size=64, max_latency_ms=5.0))
