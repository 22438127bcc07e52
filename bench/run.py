"""Serving benchmark: raw forward, our predictor (unbatched, batched), Ray Serve and a tutorial app.

    python bench/run.py [--quick] [--models extractor,chatbot] [--concurrency 1,8,32] [--seconds N]

One server at a time on a free 127.0.0.1 port (2 cores), each stopped before the next starts.
Prints the table, the ratios and the issue's targets; writes bench/results.json and bench/throughput.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import report
from measure import BENCH, MODES, ONNX_MODELS, ROOT, STREAMING_MODELS, measure_mode, rawforward

MODEL_DIRS = {"extractor": ROOT / "models" / "extractor", "chatbot": ROOT / "models" / "chatbot"}
# Per model: concurrencies for a full run and for --quick (the targets need c=32 and c=8).
CONCURRENCY = {"extractor": ([1, 8, 32], [1, 32]), "chatbot": ([1, 8, 32], [1, 8])}
RAW_TIMEOUT_S = 180


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def cpu_times() -> tuple[int, int]:
    """(all, idle + iowait) jiffies over every core, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


def cpu_busy(seconds: float = 2.0) -> float:
    """Fraction of all cores busy over `seconds`, sampled before anything of ours runs."""
    total0, idle0 = cpu_times()
    time.sleep(seconds)
    total1, idle1 = cpu_times()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def machine() -> dict:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": package_version("torch"),
        "transformers": package_version("transformers"),
        "kserve": package_version("kserve"),
        "ray": package_version("ray"),
        "cpu_busy_before": round(cpu_busy(), 3),
    }


def raw_forward(model: str, seconds: float) -> dict:
    """The in-process measurements, from rawforward.py in a process of its own."""
    args = ["--model", model, "--model_dir", str(MODEL_DIRS[model]), "--seconds", str(seconds)]
    return {"batches": [], **rawforward(args, RAW_TIMEOUT_S)}  # no batches when it failed


def settings(args: argparse.Namespace) -> dict:
    chosen = [int(c) for c in args.concurrency.split(",")] if args.concurrency else None
    full, quick = (8.0, 2.0, 4.0), (2.0, 0.5, 1.5)  # measured s per concurrency, warm-up s, raw s per batch size
    seconds, warmup, raw_seconds = quick if args.quick else full
    return {
        "quick": args.quick,
        "modes": args.modes.split(","),
        "seconds": args.seconds or seconds,
        "warmup": warmup,
        "raw_seconds": raw_seconds,
        "concurrency": {m: chosen or CONCURRENCY[m][args.quick] for m in args.models.split(",")},
    }


def benchmark(plan: dict, log_dir: Path) -> dict:
    results = {
        "machine": machine(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": plan,
        "raw": {},
        "servers": [],
    }
    progress(f"CPU busy before the run: {results['machine']['cpu_busy_before']:.0%} (other jobs skew the numbers)")
    for model, concurrencies in plan["concurrency"].items():
        progress(f"{model}: raw in-process forward")
        results["raw"][model] = raw_forward(model, plan["raw_seconds"])
        for mode in plan["modes"]:
            if (mode == "stream" and model not in STREAMING_MODELS) or (mode == "onnx" and model not in ONNX_MODELS):
                continue  # a mode this model does not have: no row, as for the extractor's streams
            progress(f"{model}: {mode} at concurrency {concurrencies}")
            server = measure_mode(
                model, mode, str(MODEL_DIRS[model]), concurrencies, plan["seconds"], plan["warmup"], log_dir
            )
            results["servers"].append(server)
            progress(
                f"  -> {server['status']}"
                + "".join(f"  c={r['concurrency']}: {r['req_s']:.1f} req/s" for r in server["rows"])
            )
    return results


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every `running` block, which stops its server


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="A ~2 minute smoke run (shorter, fewer concurrencies)")
    parser.add_argument("--models", default="extractor,chatbot")
    parser.add_argument("--modes", default=",".join(MODES), help=f"Subset of {','.join(MODES)}")
    parser.add_argument("--concurrency", help="e.g. 1,8,32 (default: per model, see CONCURRENCY)")
    parser.add_argument("--seconds", type=float, help="Measured seconds per concurrency (default 8; 2 with --quick)")
    parser.add_argument("--out_dir", type=Path, default=BENCH, help="Where results.json and throughput.png go")
    args = parser.parse_args(argv)
    unknown = set(args.models.split(",")) - set(MODEL_DIRS) or set(args.modes.split(",")) - set(MODES)
    if unknown:
        parser.error(f"unknown model or mode: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.monotonic()
    try:
        results = benchmark(settings(args), args.out_dir / "logs")
    except KeyboardInterrupt:
        print("\ninterrupted: every server started has been stopped; nothing written", file=sys.stderr)
        return 130
    results["wall_s"] = round(time.monotonic() - started, 1)
    results["ratios"] = report.ratios(results)
    results["targets"] = report.targets(results)
    print("\n" + report.text(results))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    report.plot(results, args.out_dir / "throughput.png")
    print(
        f"\nwrote {args.out_dir / 'results.json'} and {args.out_dir / 'throughput.png'} (server logs in "
        f"{args.out_dir / 'logs'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
