"""Admission control for one model: a bounded queue and a per-request deadline.

KServe's Standard mode has neither: requests pile up without bound when traffic exceeds capacity,
and a slow one holds its client forever. Here a request beyond `max_queue` waiting or running
gets a fast 503 with Retry-After (clients and proxies back off instead of timing out), and one
that has not finished within `timeout_s` gets a 504; its work is dropped from the batch queue,
or, when already running, its result is dropped. Either way the server stays healthy.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from predictors.common import metrics

T = TypeVar("T")
RETRY_AFTER_S = 1  # the queue drains in about a second at the default limits


class Overloaded(Exception):
    """The model's queue is full: 503 with Retry-After."""


class RequestTimedOut(Exception):
    """The request missed its deadline: 504."""


class Admission:
    def __init__(self, name: str, max_queue: int | None, timeout_s: float | None) -> None:
        if max_queue is not None and max_queue < 1:
            raise ValueError("max_queue must be ≥ 1")
        self.name = name
        self.max_queue = max_queue  # None: unbounded (Ray Serve replicas, where Ray bounds the queue)
        self.timeout_s = timeout_s or None  # 0: no deadline
        self.pending = 0  # requests admitted and not yet answered
        self.metrics = metrics.for_model(name)

    @property
    def full(self) -> bool:
        return self.max_queue is not None and self.pending >= self.max_queue

    def refusal(self) -> Overloaded:
        """The 503 for a full queue, counted (every refusal, early or late, comes here)."""
        self.metrics.reject("queue_full")
        return Overloaded(
            f"{self.name} is at capacity ({self.pending} requests queued, --max_queue "
            f"{self.max_queue}); retry in {RETRY_AFTER_S} s"
        )

    async def __call__(self, work: Coroutine[Any, Any, T]) -> T:
        """`work`'s result, or Overloaded at once, or RequestTimedOut after the deadline."""
        if self.full:
            work.close()  # never started: nothing to cancel
            raise self.refusal()
        self.pending += 1
        self.metrics.in_flight.inc()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s) as deadline:
                return await work
        except TimeoutError:
            if deadline.expired():
                self.metrics.reject("deadline")
                raise RequestTimedOut(
                    f"{self.name} did not answer within {self.timeout_s:g} s (--request_timeout_s)"
                ) from None
            raise
        finally:
            self.pending -= 1
            self.metrics.in_flight.dec()
            self.metrics.request_duration.observe(time.perf_counter() - started)


def _busy(exc: Overloaded) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})


async def _overloaded(_: Request, exc: Overloaded) -> JSONResponse:
    return _busy(exc)


async def _timed_out(_: Request, exc: RequestTimedOut) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=504)


def add_handlers(app: FastAPI) -> None:
    """JSON answers for both, in the shape of the SDK's own errors ({"error": "..."})."""
    app.add_exception_handler(Overloaded, _overloaded)
    app.add_exception_handler(RequestTimedOut, _timed_out)


# The inference routes of the V1 and V2 protocols, and the model each one names.
INFERENCE_PATH = re.compile(r"/v1/models/(?P<v1>[^/:]+):predict|/v2/models/(?P<v2>[^/]+)(/versions/[^/]+)?/infer")


class RefuseWhenFull:
    """ASGI middleware: a V1/V2 inference request to a model whose queue is full gets its 503
    before routing, body parsing and validation. Under 4x overload those cost the event loop
    more than the requests it admits; refusing first keeps 503s fast. Admission.__call__ stays
    the real gate (and covers the seed routes): this only answers earlier."""

    def __init__(self, app: ASGIApp, gates: Mapping[str, Admission]) -> None:
        self.app = app
        self.gates = gates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            match = INFERENCE_PATH.fullmatch(scope["path"])
            gate = match and self.gates.get(match["v1"] or match["v2"])
            if gate and gate.full:
                await _busy(gate.refusal())(scope, receive, send)
                return
        await self.app(scope, receive, send)
