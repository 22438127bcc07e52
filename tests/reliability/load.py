"""Load for the overload test, run as its own process: `python -m tests.reliability.load URL RATE SECONDS`.

A fresh interpreter with a small heap, so the client's own pauses (a garbage collection walking
pytest's objects cost ~150 ms) are not charged to the server it measures. Prints one JSON document.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp

TEXT = (
    "Last semester my roommate and I both signed up for Linear Algebra because the lectures were long "
    "but the weekly problem sets really helped."
)
BODY = {"instances": [{"text": TEXT}]}


async def closed_loop(url: str, concurrency: int, seconds: float) -> list[float]:
    """Latencies of 200s from `concurrency` clients sending back to back."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.post(url, json=BODY) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status} below capacity")
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    return latencies


async def open_loop(url: str, rate: float, seconds: float) -> list[dict]:
    """Send at a fixed `rate` whatever the answers; one record per request."""
    results: list[dict] = []
    timeout = aiohttp.ClientTimeout(total=60)  # a hang shows up as an error record

    async def one(session: aiohttp.ClientSession) -> None:
        started = time.perf_counter()
        try:
            async with session.post(url, json=BODY) as response:
                body = await response.json(content_type=None)
                results.append(
                    {
                        "status": response.status,
                        "seconds": time.perf_counter() - started,
                        "retry_after": response.headers.get("Retry-After"),
                        "error": body.get("error") if isinstance(body, dict) else None,
                    }
                )
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            results.append({"status": None, "seconds": time.perf_counter() - started, "error": repr(exc)})

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        tasks, start = [], time.perf_counter()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            tasks.append(asyncio.ensure_future(one(session)))
        await asyncio.gather(*tasks)
    return results


if __name__ == "__main__":
    url, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(asyncio.run(open_loop(url, rate, seconds))))
