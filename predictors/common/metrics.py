"""Prometheus metrics of our own, beside the SDK's, on each predictor's /metrics.

Named by Prometheus conventions with a `simplechat_` prefix and a `model` label; registered in
prometheus_client's default registry, which the SDK's /metrics handler exposes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Decoding is per token: buckets from one fast step to a slow first token under load.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

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
