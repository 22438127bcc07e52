"""Run kserve models on the SDK's REST server, loading them after the port is open.

Why not `kserve.ModelServer().start()`: it needs every model loaded before it starts (so
readiness can never answer 503 while loading), and it binds 0.0.0.0 with no way to choose.
We reuse the SDK's own pieces — model registry, DataPlane, RESTServer with its V1/V2 routes and
error handlers — and add the host, a background load and the predictor's extra routes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence

from fastapi import APIRouter
from kserve import Model, ModelServer, model_server
from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
from kserve.logging import logger
from kserve.protocol.rest.server import RESTServer

from predictors.common import admission, sdk_app
from predictors.common.model_dir import ModelDirError, check_model_dir

LOADER = "load-models"  # the loading thread's name


def _load_in_background(models: Sequence[Model]) -> asyncio.Future:
    """Load one model after the other on a daemon thread, so a shutdown during a slow load
    does not wait for it (and two from_pretrained calls never race: they are not thread-safe)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future = loop.create_future()

    def run() -> None:
        try:
            for model in models:
                model.load()
        except BaseException as exc:  # noqa: BLE001 - reported to the event loop below
            loop.call_soon_threadsafe(done.set_exception, exc)
        else:
            loop.call_soon_threadsafe(done.set_result, None)

    threading.Thread(target=run, name=LOADER, daemon=True).start()
    return done


async def _run(rest: RESTServer, models: Sequence[Model], url: str) -> int:
    serving = asyncio.create_task(rest.start())
    loading = _load_in_background(models)
    done, _ = await asyncio.wait({serving, loading}, return_when=asyncio.FIRST_COMPLETED)
    if loading in done:
        if loading.exception() is not None:
            logger.error("model load failed: %s", loading.exception())
            # uvicorn's documented way to stop a running Server.
            rest._server.should_exit = True
            await serving
            return 1
        # The loaded models are hundreds of thousands of long-lived objects; a full collection
        # walking them stalled the event loop for ~250 ms under load (503 p99 248 → 21 ms frozen).
        gc.freeze()
        print(f"ready: {', '.join(m.name for m in models)} at {url}", flush=True)  # what `make run` users wait for
        await serving
    else:
        loading.cancel()
    return 0


def _adapt_sdk_app(rest: RESTServer, gates: dict[str, admission.Admission]) -> None:
    """sdk_app.adapt, once the SDK has built its app (inside rest.start())."""
    create = rest.create_application

    def create_application() -> None:
        create()
        sdk_app.adapt(model_server.app, gates)

    rest.create_application = create_application


def _unready_on_exit(rest: RESTServer, models: Sequence[Model]) -> None:
    """On SIGTERM/SIGINT, readiness turns 503 at once, while uvicorn stops listening and lets the
    requests in flight finish (within the grace period); then the process exits 0."""
    stop = rest._server.handle_exit  # uvicorn installs this bound attribute as its signal handler

    def handle_exit(sig: int, frame: object) -> None:
        for model in models:
            model.ready = False
        stop(sig, frame)

    rest._server.handle_exit = handle_exit


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(models: Sequence[Model], args: argparse.Namespace, routers: Iterable[APIRouter] = ()) -> int:
    """Serve `models` (not yet loaded) until SIGINT/SIGTERM; returns the process exit code."""
    server = ModelServer(
        http_port=args.http_port,
        enable_grpc=False,
        enable_docs_url=args.enable_docs_url,
        enable_latency_logging=args.enable_latency_logging,
    )
    for model in models:
        server.register_model(model)
    rest = RESTServer(
        FASTAPI_APP_IMPORT_STRING,
        server.dataplane,
        server.model_repository_extension,
        args.http_port,
        access_log_format=args.access_log_format,
        grace_period=getattr(args, "grace_period_s", 30),
        event_loop=args.event_loop,
        timeout_keep_alive=args.timeout_keep_alive,
    )
    rest.config.host = args.host
    _adapt_sdk_app(rest, {m.name: m.admission for m in models if hasattr(m, "admission")})
    _unready_on_exit(rest, models)
    for router in routers:
        model_server.app.include_router(router)
    # uvicorn shuts down gracefully on the first SIGINT/SIGTERM, then re-raises the signal; this
    # handler takes that re-raise (and a signal before uvicorn listens), so Ctrl-C or a pod stop
    # exits 0 without a traceback, whenever it comes.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_cleanly)
    # On stdout, not only in the log: the one line a user of `make run` looks for.
    url = f"http://{args.host}:{args.http_port}"
    print(f"serving {', '.join(m.name for m in models)} on {url}  (Ctrl-C stops)", flush=True)
    try:
        code = asyncio.run(_run(rest, models, url))
    except SystemExit as exc:  # the signal, re-raised by uvicorn once it has stopped serving
        code = exc.code if isinstance(exc.code, int) else 0
    if any(t.name == LOADER and t.is_alive() for t in threading.enumerate()):
        # Stopped during a load: finalizing the interpreter under a thread that is inside torch's
        # or the tokenizer's native code aborts the process (SIGABRT, "terminate called without
        # an active exception"). Nothing is left to clean up but our output.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def run_predictor(
    parser: argparse.ArgumentParser,
    build: Callable[[argparse.Namespace], tuple[list[Model], list[APIRouter]]],
    argv: list[str] | None = None,
    hint: str = "",
) -> int:
    """Parse, build, check every model's dir (fail fast, before the port opens), serve."""
    args = parser.parse_args(argv)
    try:
        models, routers = build(args)  # constructing a model reads nothing: load() does
        for model in models:
            check_model_dir(model.model_dir)
    except ModelDirError as exc:
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2
    return serve(models, args, routers)
