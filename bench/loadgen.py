"""Closed-loop load: N workers, each sending requests back to back for a fixed time.

Only 200s count towards throughput and latency; anything else (status or exception) is an error,
and a few distinct error messages are kept for the report. aiohttp, with bodies encoded once: on
a 2-core machine every cycle the client spends is taken from the server it measures.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

import aiohttp

REQUEST_TIMEOUT_S = 120.0
MAX_ERROR_SAMPLES = 3
JSON = {"Content-Type": "application/json"}


# The tokens of a 200 response's body (the chatbot's reply), for tokens/s beside requests/s.
TokenCount = Callable[[bytes], int]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    tokens: int = 0
    errors: int = 0
    samples: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        self.errors += 1
        if message not in self.samples and len(self.samples) < MAX_ERROR_SAMPLES:
            self.samples.append(message[:200])


async def _one(
    session: aiohttp.ClientSession, url: str, body: bytes, tally: Tally, tokens: TokenCount | None = None
) -> None:
    begin = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=JSON) as response:
            text = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.error(f"{type(exc).__name__}: {exc}")
        return
    if status == 200:
        tally.latencies.append(time.perf_counter() - begin)
        tally.tokens += tokens(text) if tokens else 0
    else:
        tally.error(f"HTTP {status}: {text.decode(errors='replace')}")


async def _phase(
    session: aiohttp.ClientSession, url: str, bodies: list[bytes], concurrency: int, seconds: float, one, tally
) -> float:
    """Run the workers until `seconds` have passed and the requests in flight have finished;
    `one(session, url, body, tally)` sends one request and records it."""
    tickets = count()
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await one(session, url, bodies[next(tickets) % len(bodies)], tally)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def summarize(tally: Tally, elapsed: float, concurrency: int) -> dict:
    ms = [latency * 1000 for latency in tally.latencies]
    return {
        "concurrency": concurrency,
        "requests": len(ms),
        "seconds": round(elapsed, 2),
        "req_s": len(ms) / elapsed,
        "tokens_s": tally.tokens / elapsed if tally.tokens else None,
        "p50_ms": percentile(ms, 0.50),
        "p99_ms": percentile(ms, 0.99),
        "errors": tally.errors,
        "error_samples": tally.samples,
    }


async def run_load(
    url: str,
    bodies: list[dict],
    concurrency: int,
    seconds: float,
    warmup: float,
    one=None,
    new_tally=Tally,
    summary=None,
) -> dict:
    """Warm up (results dropped), then measure; throughput counts the drain of the last requests.
    `one`, `new_tally` and `summary` make another kind of load (streamload.py) on the same loop."""
    one, summary = one or _one, summary or summarize
    encoded = [json.dumps(body).encode() for body in bodies]
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    # trust_env=False (the default): no proxy from the environment, the traffic stays on loopback.
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if warmup > 0:
            await _phase(session, url, encoded, concurrency, warmup, one, new_tally())
        tally = new_tally()
        elapsed = await _phase(session, url, encoded, concurrency, seconds, one, tally)
    return summary(tally, elapsed, concurrency)


def measure(
    url: str, bodies: list[dict], concurrency: int, seconds: float, warmup: float, tokens: TokenCount | None = None
) -> dict:
    async def one(session: aiohttp.ClientSession, url: str, body: bytes, tally: Tally) -> None:
        await _one(session, url, body, tally, tokens)

    return asyncio.run(run_load(url, bodies, concurrency, seconds, warmup, one))
