"""Closed-loop load on the chatbot's streamed route: N workers, each streaming replies back to back.

Per reply: time to first token (the first frame with text), its tokens (the final text, the
guarded replacement when the last frame carries one, counted with the model's tokenizer, the
same count the non-streamed rows use) and its duration. Only complete streams count; a refusal
or a broken stream is an error.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from loadgen import Tally, percentile, run_load

JSON = {"Content-Type": "application/json", "Accept": "text/event-stream"}


@dataclass
class StreamTally(Tally):
    """Tally's errors, and per complete stream its time to first token, tokens and duration."""

    ttft: list[float] = field(default_factory=list)
    reply_tokens: list[int] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)


async def _one(
    session: aiohttp.ClientSession, url: str, body: bytes, tally: StreamTally, tokens: Callable[[str], int]
) -> None:
    begin, first, text, done = time.perf_counter(), None, "", False
    try:
        async with session.post(url, data=body, headers=JSON) as response:
            if response.status != 200:
                tally.error(f"HTTP {response.status}: {(await response.read()).decode(errors='replace')}")
                return
            async for raw in response.content:
                line = raw.decode().strip()
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    done = True
                    break
                event = json.loads(line[6:])
                if "error" in event:
                    tally.error(f"stream error: {event['error'].get('message')}")
                    return
                piece = (event.get("choices") or [{}])[0].get("delta", {}).get("content")
                if piece:
                    first = first or time.perf_counter()
                    text += piece
                text = event.get("simplechat", {}).get("replace_content", text)
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.error(f"{type(exc).__name__}: {exc}")
        return
    if not done or first is None:
        tally.error("stream ended without [DONE] or without text")
        return
    tally.ttft.append(first - begin)
    tally.reply_tokens.append(tokens(text))
    tally.durations.append(time.perf_counter() - begin)


def summarize(tally: StreamTally, elapsed: float, concurrency: int) -> dict:
    ms = [t * 1000 for t in tally.ttft]
    per_stream = [n / d for n, d in zip(tally.reply_tokens, tally.durations, strict=True) if d > 0]
    return {
        "concurrency": concurrency,
        "requests": len(ms),
        "seconds": round(elapsed, 2),
        "req_s": len(ms) / elapsed,
        "ttft_p50_ms": percentile(ms, 0.50),
        "ttft_p99_ms": percentile(ms, 0.99),
        "tokens_s": sum(tally.reply_tokens) / elapsed,
        "tokens_s_per_stream": statistics.fmean(per_stream) if per_stream else None,
        "p50_ms": percentile([d * 1000 for d in tally.durations], 0.50),
        "p99_ms": percentile([d * 1000 for d in tally.durations], 0.99),
        "errors": tally.errors,
        "error_samples": tally.samples,
    }


def measure(
    url: str, bodies: list[dict], concurrency: int, seconds: float, warmup: float, tokens: Callable[[str], int]
) -> dict:
    async def one(session: aiohttp.ClientSession, url: str, body: bytes, tally: StreamTally) -> None:
        await _one(session, url, body, tally, tokens)

    return asyncio.run(run_load(url, bodies, concurrency, seconds, warmup, one, StreamTally, summarize))
