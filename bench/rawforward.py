"""Raw in-process forward throughput on torch: the ceiling the servers are measured against.

    python bench/rawforward.py --model extractor|chatbot --model_dir DIR [--seconds N]
    python bench/rawforward.py --model extractor --model_dir DIR --paired URL [--seconds N]

Prints one JSON document: for each batch size, calls, items/s and the median call latency.
Run as its own process so the load generator never shares an interpreter with torch.

--paired: a lone request's cost against a running server, measured in pairs. One raw forward of a
sentence here, then the same sentence as one request to URL, over and over: both halves of a pair
see the same moment of a shared machine, whose speed can swing by half within seconds. Reports
both medians and the median of the per-pair ratios.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from collections.abc import Callable
from itertools import cycle, islice
from pathlib import Path
from urllib.parse import urlsplit

import workload

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, for `predictors`

EXTRACTOR_BATCHES = (1, 32)
CHATBOT_BATCHES = (1, 8)
WARMUP_CALLS = 2
PAIR_PAUSE_S = 0.02  # lets torch's worker threads stop spinning before the other half runs


def time_calls(call: Callable[[int], object], batch: int, seconds: float) -> dict:
    """Call `call(i)` back to back for `seconds` (after a warm-up); items/s and call latency."""
    for i in range(WARMUP_CALLS):
        call(i)
    latencies: list[float] = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or len(latencies) < 3:
        begin = time.perf_counter()
        call(len(latencies))
        latencies.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - started
    return {
        "batch": batch,
        "calls": len(latencies),
        "items_per_s": batch * len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
    }


def chunk(items: list, size: int, index: int) -> list:
    """The `index`-th run of `size` items from `items`, cycling, so every call sees different inputs."""
    return list(islice(cycle(items), index * size, (index + 1) * size))


def extractor(model_dir: str, seconds: float) -> list[dict]:
    from predictors.extractor.model import CourseExtractor

    model = CourseExtractor("extractor", model_dir, device="cpu", backend="torch")  # the torch ceiling
    model.load()
    texts = workload.sentences()
    return [time_calls(lambda i, b=b: model.extract(chunk(texts, b, i)), b, seconds) for b in EXTRACTOR_BATCHES]


def chatbot(model_dir: str, seconds: float) -> list[dict]:
    from predictors.chatbot.model import Chatbot

    bot = Chatbot("chatbot", model_dir, device="cpu")
    bot.load()
    instances = [bot.instance(body["instances"][0]) for body in workload.bodies("chatbot")]
    replies: list[str] = []

    def call(index: int, size: int) -> None:
        batch = chunk(instances, size, index)
        replies.extend(bot.generate([(bot.prompt(inst), inst) for inst in batch]))

    results = []
    for size in CHATBOT_BATCHES:
        replies.clear()
        result = time_calls(lambda i, s=size: call(i, s), size, seconds)
        tokens = [len(bot.dialogue.tokenizer.encode(reply)) for reply in replies]
        results.append({**result, "mean_reply_tokens": statistics.mean(tokens) if tokens else 0})
    return results


def paired(model_dir: str, url: str, seconds: float) -> dict:
    """Alternate one raw forward and one request to the server at `url`, each on the same sentence."""
    from predictors.extractor.model import CourseExtractor

    model = CourseExtractor("extractor", model_dir, device="cpu", backend="torch")  # the torch ceiling
    model.load()
    texts = workload.sentences()
    target = urlsplit(url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
    headers = {"Content-Type": "application/json"}

    def request(text: str) -> None:
        connection.request("POST", target.path, json.dumps(workload.extractor_body(text)), headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"{url} answered {response.status}: {body[:200]!r}")

    def timed(call: Callable[[], object]) -> float:
        begin = time.perf_counter()
        call()
        elapsed = time.perf_counter() - begin
        time.sleep(PAIR_PAUSE_S)
        return elapsed

    raw, server = [], []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or len(raw) < 3:
        text = texts[len(raw) % len(texts)]
        raw.append(timed(lambda t=text: model.extract([t])))
        server.append(timed(lambda t=text: request(t)))
    raw, server = raw[WARMUP_CALLS:] or raw, server[WARMUP_CALLS:] or server
    return {
        "pairs": len(raw),
        "raw_p50_ms": statistics.median(raw) * 1000,
        "server_p50_ms": statistics.median(server) * 1000,
        "ratio": statistics.median(s / r for s, r in zip(server, raw, strict=True)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("extractor", "chatbot"), required=True)
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--seconds", type=float, default=4.0, help="Timed seconds per batch size")
    parser.add_argument(
        "--paired", metavar="URL", help="Time lone requests to this :predict URL in pairs with raw forwards (extractor)"
    )
    args = parser.parse_args(argv)
    if args.paired:
        if args.model != "extractor":
            parser.error("--paired measures the extractor")
        print(json.dumps(paired(args.model_dir, args.paired, args.seconds)))
        return 0
    measure = extractor if args.model == "extractor" else chatbot
    print(json.dumps({"model": args.model, "batches": measure(args.model_dir, args.seconds)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
