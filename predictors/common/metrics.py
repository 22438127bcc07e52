"""Prometheus metrics of our own, beside the SDK's, on each predictor's /metrics.

The SDK exposes only pre/predict/post-process latencies; an operator of a batching server needs
the queue and the batches (Triton's queue time and batch stats, vLLM's waiting requests and time
to first token are the models). Named by Prometheus conventions with a `simplechat_` prefix and
a `model` label; registered in prometheus_client's default registry, which the SDK's /metrics
handler exposes. `for_model(name)` binds them to one model and creates every series at once, so
a rate() of a counter that has not moved yet is 0, not "no data".

Batch size, queue wait and forward time are the V1/V2 path's (the runtime's batcher); streamed
replies have their own: sequences running, time to first token, generated tokens. In Ray mode
the forwards run in Ray's replicas, whose own metrics cover them; the proxy's /metrics has the
admission side (in flight, rejections, request duration).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cache

from fastapi import Request
from prometheus_client import Counter, Gauge, Histogram

# Decoding is per token: buckets from one fast step to a slow first token under load.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A request's whole time: from a cached short reply to a long generation near its deadline.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
REASONS = ("queue_full", "deadline", "invalid_input")

STREAMS_RUNNING = Gauge(
    "simplechat_stream_sequences_running",
    "Streamed replies in the running batch: each costs compute at every decoding step",
    ["model"],
)
GENERATED_TOKENS = Counter(
    "simplechat_generated_tokens",  # exposed as simplechat_generated_tokens_total
    "Tokens generated for streamed replies",
    ["model"],
)
TIME_TO_FIRST_TOKEN = Histogram(
    "simplechat_time_to_first_token_seconds",
    "From a streamed request's arrival at the engine to its first token",
    ["model"],
    buckets=_LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge("simplechat_requests_in_flight", "Requests admitted and not yet answered", ["model"])
QUEUE_DEPTH = Gauge(
    "simplechat_queue_depth",
    "Admitted requests waiting for the model: not yet in a forward (or, streamed, not yet decoding)",
    ["model"],
)
BATCH_SIZE = Histogram("simplechat_batch_size", "Items per forward", ["model"], buckets=_BATCH_BUCKETS)
QUEUE_WAIT = Histogram(
    "simplechat_queue_wait_seconds",
    "From a request's arrival at the batcher to the start of its forward",
    ["model"],
    buckets=_LATENCY_BUCKETS,
)
FORWARD_TIME = Histogram(
    "simplechat_forward_seconds", "Duration of one forward (a batch)", ["model"], buckets=_LATENCY_BUCKETS
)
REQUEST_DURATION = Histogram(
    "simplechat_request_duration_seconds",
    "An admitted request's time in the server, queue and model, answered or failed",
    ["model"],
    buckets=_REQUEST_BUCKETS,
)
REJECTIONS = Counter(
    "simplechat_rejections",  # exposed as simplechat_rejections_total
    "Requests refused: queue_full (503/429), deadline (504), invalid_input (4xx)",
    ["model", "reason"],
)


@dataclass(frozen=True)
class ModelMetrics:
    """The metrics of one model, its label applied."""

    name: str
    in_flight: Gauge
    queue_depth: Gauge
    batch_size: Histogram
    queue_wait: Histogram
    forward_time: Histogram
    request_duration: Histogram
    rejections: dict[str, Counter]

    def reject(self, reason: str) -> None:
        self.rejections[reason].inc()

    def dequeued(self, since: float) -> None:
        """A request left the queue for its forward; `since`: its perf_counter() on arrival."""
        self.queue_depth.dec()
        self.queue_wait.observe(time.perf_counter() - since)

    def forwarded(self, items: int, seconds: float) -> None:
        self.batch_size.observe(items)
        self.forward_time.observe(seconds)


@cache
def for_model(name: str) -> ModelMetrics:
    """One model's metrics, every series created now (the same object for the same name)."""
    return ModelMetrics(
        name=name,
        in_flight=IN_FLIGHT.labels(name),
        queue_depth=QUEUE_DEPTH.labels(name),
        batch_size=BATCH_SIZE.labels(name),
        queue_wait=QUEUE_WAIT.labels(name),
        forward_time=FORWARD_TIME.labels(name),
        request_duration=REQUEST_DURATION.labels(name),
        rejections={reason: REJECTIONS.labels(name, reason) for reason in REASONS},
    )


def label_requests(name: str) -> Callable[[Request], None]:
    """A route dependency naming the model a request is for, so an input error raised on a
    route without `{model_name}` in its path (the tutorial's /chat) is counted for that model."""

    def label(request: Request) -> None:
        request.state.model = name

    return label


def count_invalid(request: Request, known: Collection[str]) -> None:
    """An input error (400/413/422) of the request's model: the V1/V2 path's `{model_name}` or
    the route's label. Only `known` names: a client must not mint label values."""
    name = request.path_params.get("model_name") or getattr(request.state, "model", None)
    if name in known:
        for_model(name).reject("invalid_input")
