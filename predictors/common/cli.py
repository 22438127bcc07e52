"""Command-line parser shared by both predictors, built on the kserve SDK's own parser."""

from __future__ import annotations

import argparse

from kserve import model_server

from predictors.common.inference_thread import DEFAULT_NICE
from predictors.common.runtime import RuntimeOptions, dynamic_batcher


def build_parser(description: str, model_name: str) -> argparse.ArgumentParser:
    """Every kserve ModelServer flag plus what a predictor needs. The SDK flags for gRPC, several
    workers or the transformer role are refused when used (kserve_server.REFUSED_FLAGS)."""
    parser = argparse.ArgumentParser(
        description=description,
        parents=[model_server.parser],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    # gRPC would listen on every interface at 8081; clients here speak HTTP, so it is opt-in.
    # asyncio's own loop, not the SDK's "auto" (uvloop when installed): uvloop gave the chatbot's
    # streams no earlier first tokens and fewer tokens/s at c=32 (2656-2776 against 2844-2923 here).
    parser.set_defaults(model_name=model_name, enable_grpc=False, event_loop="asyncio")
    parser.add_argument(
        "--model_dir",
        default="/mnt/models",
        help="Model directory (KServe's storage initializer puts a storageUri here)",
    )
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: CUDA (fp16) when present, else CPU"
    )
    parser.add_argument(
        "--host",
        default="0.0.0.0",  # noqa: S104 - containers must listen on the pod IP
        help="Interface to bind (127.0.0.1 for local-only)",
    )
    parser.add_argument(
        "--max_batch_size",
        type=int,
        default=64,
        help="Most instances in one request, and in one model call across requests",
    )
    parser.add_argument(
        "--max_batch_latency_ms",
        type=float,
        default=5.0,
        help="Longest a batch waits for more requests; it waits only while it holds fewer "
        "items than the previous batch, so steady lone requests never wait",
    )
    parser.add_argument(
        "--no_batching", action="store_true", help="One model call per request (no cross-request batching)"
    )
    parser.add_argument(
        "--max_queue",
        type=positive_int,
        default=64,
        help="Most requests waiting or running per model; beyond it a fast 503 with Retry-After",
    )
    parser.add_argument(
        "--request_timeout_s",
        type=float,
        default=30.0,
        help="Per-request deadline; a request past it gets a 504 and its work is dropped (0: none)",
    )
    parser.add_argument(
        "--inference_nice",
        type=nice_increment,
        default=DEFAULT_NICE,
        help="How many nice steps below the event loop forwards run (0-19; Linux), so health "
        "checks and 503s stay fast while every core is busy with a batch",
    )
    parser.add_argument(
        "--grace_period_s",
        type=int,
        default=30,
        help="On SIGTERM, how long in-flight requests may take to finish before the server exits",
    )
    return parser


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return number


def nice_increment(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 19:
        raise argparse.ArgumentTypeError(f"must be 0-19, got {value}")
    return number


def runtime_options(args: argparse.Namespace) -> RuntimeOptions:
    """How requests reach a model's forward, from the parsed flags."""
    batcher = None if args.no_batching else dynamic_batcher(args.max_batch_size, args.max_batch_latency_ms)
    return RuntimeOptions(
        batcher=batcher,
        max_queue=args.max_queue,
        request_timeout_s=args.request_timeout_s,
        inference_nice=args.inference_nice,
    )


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """--ray and the deployment's resources (predictors/ray_app.py)."""
    group = parser.add_argument_group("Ray Serve (--ray)")
    group.add_argument("--ray", action="store_true", help="Serve the model as a Ray Serve deployment")
    group.add_argument("--num_replicas", type=int, default=1, help="Replicas of the deployment")
    group.add_argument("--num_cpus", type=float, default=1.0, help="CPUs reserved per replica")
    group.add_argument("--num_gpus", type=float, default=0.0, help="GPUs per replica (fractions share one GPU)")
