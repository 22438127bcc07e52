"""Measure one server mode: start it on a free loopback port, load it at each concurrency, stop it.

    python bench/measure.py --model extractor --mode ray --model_dir DIR --concurrency 1,8 --out FILE

run.py calls `measure_server` directly, and runs this file as a program for Ray inside a network
namespace of its own (`measure_isolated`): Ray 2.60's internal gRPC servers listen on every
interface, so the Ray node gets a loopback-only network (and a PID namespace that takes every Ray
process down with it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import streamload
import workload
from loadgen import REQUEST_TIMEOUT_S, measure
from serverproc import STOP_GRACE_S, ServerFailed, free_port, log_tail, running, wait_ready

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
MODES = ("unbatched", "batched", "onnx", "ray", "tutorial", "stream")
STREAMING_MODELS = ("chatbot",)  # "stream": the batched server's streamed OpenAI route
ONNX_MODELS = ("extractor",)  # "onnx": the batched server on ONNX Runtime (int8 export); batched is torch
READY_TIMEOUT_S = {"ray": 300.0}
DEFAULT_READY_TIMEOUT_S = 180.0
PAIRED_MODELS = ("extractor",)  # the lone-latency target is the extractor's
PAIRED_TIMEOUT_S = 180.0
# Ray gives the replica OMP_NUM_THREADS=num_cpus: 2 cores, as torch has in the other modes.
RAY_CPUS = str(os.cpu_count() or 1)
NAMESPACE = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]


def server_command(model: str, mode: str, model_dir: str, port: int) -> list[str]:
    if mode == "tutorial":
        return [
            sys.executable,
            str(BENCH / "tutorial_app.py"),
            "--model",
            model,
            "--model_dir",
            model_dir,
            "--port",
            str(port),
        ]
    extra = {
        "unbatched": ["--no_batching"],
        "batched": [],
        "onnx": ["--runtime", "onnx"],
        "stream": [],
        "ray": ["--ray", "--num_cpus", RAY_CPUS],
    }[mode]
    if model in ONNX_MODELS and mode in ("unbatched", "batched"):
        extra = [*extra, "--runtime", "torch"]  # named, not auto: these rows measure torch
    return [
        sys.executable,
        "-m",
        f"predictors.{model}",
        "--model_name",
        model,
        "--model_dir",
        model_dir,
        "--host",
        "127.0.0.1",
        "--http_port",
        str(port),
        "--device",
        "cpu",
        *extra,
    ]


def server_env() -> dict[str, str]:
    return {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


def unavailable(model: str, mode: str, reason: str) -> dict:
    return {"model": model, "mode": mode, "status": f"unavailable: {reason}", "rows": []}


def measure_server(
    model: str, mode: str, model_dir: str, concurrencies: list[int], seconds: float, warmup: float, log_dir: Path
) -> dict:
    """Rows of load results for one mode; 'unavailable: <reason>' when the server fails."""
    if mode == "stream" and model not in STREAMING_MODELS:
        return unavailable(model, mode, "only the chatbot streams")
    if mode == "onnx" and model not in ONNX_MODELS:
        return unavailable(model, mode, "only the extractor has an ONNX export")
    port, log = free_port(), log_dir / f"{model}-{mode}.log"
    base = f"http://127.0.0.1:{port}/v1/models/{model}"
    result = {"model": model, "mode": mode, "status": "ok", "rows": []}
    # The chatbot's rows count reply tokens too: streamed and whole replies, by one tokenizer.
    tokens = workload.v1_reply_tokens(model_dir) if model == "chatbot" and mode != "tutorial" else None
    try:
        with running(server_command(model, mode, model_dir, port), log, ROOT, server_env()) as process:
            ready_s = wait_ready(process, base, READY_TIMEOUT_S.get(mode, DEFAULT_READY_TIMEOUT_S), log)
            result["startup_s"] = round(ready_s, 1)
            for concurrency in concurrencies:
                if mode == "stream":
                    url = f"http://127.0.0.1:{port}/openai/v1/chat/completions"
                    count = workload.reply_tokens(model_dir)
                    row = streamload.measure(url, workload.stream_bodies(), concurrency, seconds, warmup, count)
                else:
                    row = measure(f"{base}:predict", workload.bodies(model), concurrency, seconds, warmup, tokens)
                result["rows"].append(row)
                if process.poll() is not None:
                    raise ServerFailed(f"exited with code {process.returncode} under load: {log_tail(log)}")
            if model in PAIRED_MODELS and 1 in concurrencies:
                result["paired_c1"] = paired_lone(model, model_dir, f"{base}:predict", seconds)
    except ServerFailed as exc:
        result["status"] = f"unavailable: {exc}"
    return result


def paired_lone(model: str, model_dir: str, url: str, seconds: float) -> dict:
    """rawforward.py --paired against the running server: lone-request cost vs a raw forward, in pairs."""
    args = ["--model", model, "--model_dir", model_dir, "--paired", url, "--seconds", str(seconds)]
    return rawforward(args, PAIRED_TIMEOUT_S)


def rawforward(args: list[str], timeout: float) -> dict:
    """rawforward.py with `args` in a process of its own: its JSON result (the last line it
    prints) with status ok, or a status saying why there is none."""
    command = [sys.executable, str(BENCH / "rawforward.py"), *args]
    try:
        done = subprocess.run(  # noqa: S603
            command,
            cwd=ROOT,
            env=server_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"status": f"unavailable: no result within {timeout} s"}
    if done.returncode != 0:
        return {"status": f"unavailable: exit {done.returncode}: {done.stderr.strip()[-300:]}"}
    return {"status": "ok", **json.loads(done.stdout.strip().splitlines()[-1])}


def namespace_problem() -> str | None:
    """Why a private network namespace cannot be made here, or None."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return "Ray's gRPC servers listen on every interface; isolating them needs root, unshare and ip"
    probe = subprocess.run([*NAMESPACE, "true"], capture_output=True, text=True, timeout=30)  # noqa: S603
    return None if probe.returncode == 0 else f"unshare failed: {probe.stderr.strip()[-200:]}"


def measure_isolated(
    model: str, mode: str, model_dir: str, concurrencies: list[int], seconds: float, warmup: float, log_dir: Path
) -> dict:
    """measure_server run by this file as a program inside fresh network and PID namespaces."""
    problem = namespace_problem()
    if problem:
        return unavailable(model, mode, problem)
    out = log_dir / f"{model}-{mode}.json"
    out.unlink(missing_ok=True)
    command = [
        *NAMESPACE,
        sys.executable,
        __file__,
        "--model",
        model,
        "--mode",
        mode,
        "--model_dir",
        model_dir,
        "--concurrency",
        ",".join(map(str, concurrencies)),
        "--seconds",
        str(seconds),
        "--warmup",
        str(warmup),
        "--log_dir",
        str(log_dir),
        "--out",
        str(out),
    ]
    budget = (
        READY_TIMEOUT_S.get(mode, DEFAULT_READY_TIMEOUT_S)
        + STOP_GRACE_S
        + len(concurrencies) * (seconds + warmup + 2 * REQUEST_TIMEOUT_S)
        + PAIRED_TIMEOUT_S
    )
    log = log_dir / f"{model}-{mode}-namespace.log"
    with running(command, log, ROOT, server_env()) as process:
        try:
            process.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            return unavailable(model, mode, f"no result within {budget:.0f} s")
    if not out.exists():
        return unavailable(model, mode, f"measurement exited with code {process.returncode}: {log_tail(log)}")
    return json.loads(out.read_text())


def measure_mode(
    model: str, mode: str, model_dir: str, concurrencies: list[int], seconds: float, warmup: float, log_dir: Path
) -> dict:
    measure_one = measure_isolated if mode == "ray" else measure_server
    return measure_one(model, mode, model_dir, concurrencies, seconds, warmup, log_dir)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through `running`, which stops the server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("extractor", "chatbot"), required=True)
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--log_dir", type=Path, default=BENCH / "logs")
    parser.add_argument("--out", type=Path, required=True, help="Where to write the JSON result")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    result = measure_server(
        args.model, args.mode, args.model_dir, concurrencies, args.seconds, args.warmup, args.log_dir
    )
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
