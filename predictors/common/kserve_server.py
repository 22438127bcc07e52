"""Everything we take from the kserve SDK's server, in one module: the app and how it is served.

Why not `kserve.ModelServer().start()`: it needs every model loaded before it starts (so
readiness could never answer 503 while loading), binds 0.0.0.0 with no way to choose, and its
app is one module-level FastAPI object, built from `sys.argv` at import time. `build_app`
assembles a fresh app from the SDK's public pieces instead — model registry, DataPlane, the V1
and V2 route registrations, its metrics handler — and `serve` runs it on uvicorn with the
models loading in the background. tests/unit/test_kserve_server.py fails loudly when one of
those pieces changes.

kserve is pinned (pyproject.toml: `kserve==0.21.*`). To upgrade: raise the pin and the
constraint, run `make test-fast` (test_kserve_server.py names what moved), then read the SDK's
`RESTServer._register_endpoints` and `ModelServer.__init__` for routes, handlers or flags that
are new and decide here whether we serve them.

What we change in the SDK's behaviour, and why:
- Routes that cannot work here answer 404 and leave the OpenAPI document: the V2 repository
  extension (`POST /v2/repository/models/<name>/load|unload`: our models come from --model_dir,
  so `load` can never bring one back, and any client could `unload` a model), model versions
  (none are served) and `:explain` (no explainer). A NotImplementedError reaching a client
  means such a feature: 404.
- A client's mistake (400, 404, 503 while loading) is one WARNING line; only a server fault is
  an ERROR with its traceback. The SDK's handlers log every one as `ERROR Exception:` with a
  traceback.
- FastAPI's request-validation errors are rebuilt from locations and messages only: the
  default handler echoes each input, and Python's JSON parser accepts `Infinity`, which JSON
  cannot encode (a V2 body of `Infinity` made that handler fail with a 500).
- No timing_asgi middleware: per request it calls getrusage(RUSAGE_SELF) twice, which sums the
  CPU time of every thread, torch's included; under overload that was a third of the event
  loop's time. Latency stays logged by the SDK's model timing; /metrics is untouched.
- The OpenAI routes (they import vLLM) and time-series routes are not registered.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import gc
import logging
import os
import re
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kserve import Model
from kserve import errors as kserve_errors
from kserve.logging import configure_logging, logger
from kserve.model_repository import ModelRepository
from kserve.protocol.dataplane import DataPlane
from kserve.protocol.model_repository_extension import ModelRepositoryExtension
from kserve.protocol.rest.server import metrics_handler
from kserve.protocol.rest.v1_endpoints import register_v1_endpoints
from kserve.protocol.rest.v2_endpoints import register_v2_endpoints
from starlette.types import ASGIApp, Receive, Scope, Send

from predictors.common import admission, metrics
from predictors.common.model_dir import SAFETENSORS, ModelDirError, check_model_dir

LOADER = "load-models"  # the loading thread's name
# The SDK's V2 routes declare ORJSONResponse, which FastAPI now deprecates: a warning on the first
# request that no user of ours can act on.
warnings.filterwarnings("ignore", message="ORJSONResponse is deprecated")
NOT_SERVED = re.compile(r"/v2/repository/.*|/v2/models/[^/]+/versions/.*|/v1/models/[^/]+:explain")
MAX_ERRORS = 5

# The kserve ModelServer flags that only make sense for what we do not serve (gRPC, several
# uvicorn processes, the transformer role): refused, with the reason, when they ask for it.
REFUSED_FLAGS = {
    "workers": "one server process per pod: scale with replicas (minReplicas/maxReplicas)",
    "enable_grpc": "gRPC is not served; clients speak the V1/V2 REST protocols",
    "grpc_port": "gRPC is not served",
    "max_threads": "gRPC is not served (its thread pool)",
    "grpc_max_send_message_length": "gRPC is not served",
    "grpc_max_receive_message_length": "gRPC is not served",
    "predictor_host": "a transformer's flag: these are predictors",
    "protocol": "a transformer's flag: these are predictors (they serve V1 and V2 at once)",
    "predictor_protocol": "a transformer's flag: these are predictors",
    "predictor_use_ssl": "a transformer's flag: these are predictors",
    "predictor_request_timeout_seconds": "a transformer's flag; the deadline here is --request_timeout_s",
    "predictor_request_retries": "a transformer's flag: these are predictors",
    "enable_predictor_health_check": "a transformer's flag: these are predictors",
}
# Honoured as the SDK documents them.
HONOURED_FLAGS = (
    "http_port",
    "model_name",
    "enable_docs_url",
    "enable_latency_logging",
    "configure_logging",
    "log_config_file",
    "access_log_format",
    "event_loop",
    "timeout_keep_alive",
    "max_asyncio_workers",
    "ssl_certfile",
    "ssl_keyfile",
)


def check_sdk_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit 2, naming the flag, when a refused SDK flag asks for something other than its default."""
    for dest, reason in REFUSED_FLAGS.items():
        value = getattr(args, dest, None)
        if value != parser.get_default(dest):
            flag = next(a.option_strings[0] for a in parser._actions if a.dest == dest)
            parser.error(f"{flag} {value} is not supported: {reason}")


class NotServed:
    """ASGI middleware: the routes in NOT_SERVED answer a JSON 404 before reaching the SDK."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and NOT_SERVED.fullmatch(scope["path"]):
            response = JSONResponse({"error": f"{scope['path']} is not served by this predictor"}, status_code=404)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _client_error(status: HTTPStatus, prefix: str = "") -> Callable:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        if status == HTTPStatus.BAD_REQUEST:
            metrics.count_invalid(request, request.app.state.model_names)
        # The SDK's V2 decoder glues two words ("but the'inference-header-content-length'").
        message = f"{prefix}{exc}".replace("the'", "the '")
        logger.warning("%s %s -> %d: %s", request.method, request.url.path, status, message)
        return JSONResponse({"error": message}, status_code=status)

    return handler


def _server_error(status: HTTPStatus) -> Callable:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        logger.error("%s %s -> %d", request.method, request.url.path, status, exc_info=exc)
        return JSONResponse({"error": str(exc)}, status_code=status)

    return handler


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    parts = [f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        parts.append(f"... and {len(errors) - MAX_ERRORS} more")
    metrics.count_invalid(request, request.app.state.model_names)
    logger.warning("%s %s -> 422: %d validation errors", request.method, request.url.path, len(errors))
    return JSONResponse({"error": "invalid request: " + "; ".join(parts)}, status_code=422)


def _add_exception_handlers(app: FastAPI) -> None:
    client = {
        kserve_errors.InvalidInput: HTTPStatus.BAD_REQUEST,
        kserve_errors.ModelNotFound: HTTPStatus.NOT_FOUND,
        kserve_errors.ModelNotReady: HTTPStatus.SERVICE_UNAVAILABLE,
        kserve_errors.ServerNotLive: HTTPStatus.SERVICE_UNAVAILABLE,
        kserve_errors.ServerNotReady: HTTPStatus.SERVICE_UNAVAILABLE,
        kserve_errors.UnsupportedProtocol: HTTPStatus.NOT_FOUND,
    }
    for exc_class, status in client.items():
        app.add_exception_handler(exc_class, _client_error(status))
    not_served = _client_error(HTTPStatus.NOT_FOUND, "not served by this predictor: ")
    app.add_exception_handler(NotImplementedError, not_served)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(kserve_errors.InferenceError, _server_error(HTTPStatus.INTERNAL_SERVER_ERROR))
    app.add_exception_handler(Exception, _server_error(HTTPStatus.INTERNAL_SERVER_ERROR))
    admission.add_handlers(app)


def _trim_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict:
        schema = generate()  # FastAPI caches it: trimmed once
        for path in [p for p in schema.get("paths", {}) if NOT_SERVED.fullmatch(p)]:
            del schema["paths"][path]
        return schema

    app.openapi = openapi  # FastAPI's documented way to change the generated schema


def build_app(
    models: Sequence[Model],
    routers: Iterable[APIRouter] = (),
    *,
    docs: bool = False,
    access_log_format: str | None = None,
    latency_logging: bool = True,
    extensions: Iterable[Callable[[FastAPI], None]] = (),
) -> FastAPI:
    """The REST app serving `models` (loaded or not: readiness says which) with the V1 and V2
    protocols, /metrics, `routers` (before the SDK's routes, so one can answer an SDK path) and
    `extensions` (called last: their middleware is outermost)."""
    registry = ModelRepository()
    for model in models:
        model.enable_latency_logging = latency_logging
        registry.update(model)
    dataplane = DataPlane(model_registry=registry)
    app = FastAPI(title="simplechat predictor", docs_url="/docs" if docs else None, redoc_url=None)
    app.state.model_names = frozenset(m.name for m in models)  # the only `model` label values
    # Middleware added first runs innermost: the queue check sees paths after any prefix is stripped.
    # A model's admission: its runtime's, or (Ray mode) the ServeModel's own.
    gates = {m.name: gate for m in models if (gate := getattr(getattr(m, "runtime", m), "admission", None))}
    app.add_middleware(admission.RefuseWhenFull, gates=gates)
    app.add_middleware(NotServed)
    if access_log_format:
        from asgi_logger import AccessLoggerMiddleware

        logging.getLogger("uvicorn.access").handlers = []  # as the SDK does: no duplicate lines
        app.add_middleware(AccessLoggerMiddleware, format=access_log_format)
        logging.getLogger("access").propagate = False
    for router in routers:
        app.include_router(router)
    for extend in extensions:
        extend(app)
    app.add_api_route("/", dataplane.live, methods=["GET"])
    app.add_api_route("/metrics", metrics_handler, methods=["GET"])
    register_v1_endpoints(app, dataplane, ModelRepositoryExtension(model_registry=registry))
    register_v2_endpoints(app, dataplane, ModelRepositoryExtension(model_registry=registry))
    _add_exception_handlers(app)
    _trim_openapi(app)
    return app


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


async def _run(server: uvicorn.Server, models: Sequence[Model], url: str, asyncio_workers: int | None) -> int:
    workers = asyncio_workers or min(32, (os.cpu_count() or 1) + 4)  # the SDK's default
    asyncio.get_running_loop().set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=workers))
    serving = asyncio.create_task(server.serve())
    loading = _load_in_background(models)
    done, _ = await asyncio.wait({serving, loading}, return_when=asyncio.FIRST_COMPLETED)
    if loading in done:
        if loading.exception() is not None:
            logger.error("model load failed: %s", loading.exception())
            server.should_exit = True  # uvicorn's documented way to stop a running Server
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


def _unready_on_exit(server: uvicorn.Server, models: Sequence[Model]) -> None:
    """On SIGTERM/SIGINT, readiness turns 503 at once, while uvicorn stops listening and lets the
    requests in flight finish (within the grace period); then the process exits 0."""
    stop = server.handle_exit  # uvicorn installs this bound method as its signal handler

    def handle_exit(sig: int, frame: object) -> None:
        for model in models:
            model.ready = False
        stop(sig, frame)

    server.handle_exit = handle_exit


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(
    models: Sequence[Model],
    args: argparse.Namespace,
    routers: Iterable[APIRouter] = (),
    extensions: Iterable[Callable[[FastAPI], None]] = (),
) -> int:
    """Serve `models` (not yet loaded) until SIGINT/SIGTERM; returns the process exit code."""
    if args.configure_logging:
        configure_logging(args.log_config_file)
    app = build_app(
        models,
        routers,
        docs=args.enable_docs_url,
        access_log_format=args.access_log_format,
        latency_logging=args.enable_latency_logging,
        extensions=extensions,
    )
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.http_port,
        log_config=None,  # logging is configured above, as the SDK does
        timeout_graceful_shutdown=getattr(args, "grace_period_s", 30),
        timeout_keep_alive=args.timeout_keep_alive,
        loop=args.event_loop,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    )
    server = uvicorn.Server(config)
    _unready_on_exit(server, models)
    # uvicorn shuts down gracefully on the first SIGINT/SIGTERM, then re-raises the signal; this
    # handler takes that re-raise (and a signal before uvicorn listens), so Ctrl-C or a pod stop
    # exits 0 without a traceback, whenever it comes.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_cleanly)
    # On stdout, not only in the log: the one line a user of `make run` looks for.
    scheme = "https" if args.ssl_certfile else "http"
    url = f"{scheme}://{args.host}:{args.http_port}"
    print(f"serving {', '.join(m.name for m in models)} on {url}  (Ctrl-C stops)", flush=True)
    try:
        # uvicorn's loop choice (--event-loop), which asyncio.run alone would ignore.
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            code = runner.run(_run(server, models, url, args.max_asyncio_workers))
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


Built = tuple[list[Model], list[APIRouter]] | tuple[list[Model], list[APIRouter], list[Callable[[FastAPI], None]]]


def run_predictor(
    parser: argparse.ArgumentParser,
    build: Callable[[argparse.Namespace], Built],
    argv: list[str] | None = None,
    hint: str = "",
) -> int:
    """Parse (refusing SDK flags we do not serve), build, check every model's dir (fail fast,
    before the port opens), serve."""
    args = parser.parse_args(argv)
    check_sdk_flags(parser, args)
    try:
        models, routers, *extensions = build(args)  # constructing a model reads nothing: load() does
        for model in models:  # the weights its runtime reads: safetensors, or the extractor's ONNX graph
            check_model_dir(model.model_dir, getattr(model, "weights", SAFETENSORS))
    except ModelDirError as exc:
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2
    return serve(models, args, routers, extensions[0] if extensions else ())
