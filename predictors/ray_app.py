"""Ray Serve scale-out: a predictor as a Ray Serve deployment behind the same V1/V2 API.

    python -m predictors.extractor --ray [--num_replicas 2] [--num_cpus 1] [--num_gpus 0.5]
    python -m predictors.chatbot --ray ...
    serve run predictors/ray_serve.yaml          # Ray's own HTTP proxy (a starlette request in)

The kserve ModelServer still answers HTTP; the model it holds is the SDK's `RayModel` around a
Serve DeploymentHandle, so clients see no difference. Each replica runs the predictor class as it
is (preprocess -> predict -> postprocess), with its forward batched by Ray's `@serve.batch`
instead of our own batcher. Ray's dashboard is off and its HTTP proxy is not started (ShadowRay,
CVE-2023-48022). Ray 2.60's internal gRPC servers still listen on every interface: run it where
only trusted peers can connect (the tests use a network namespace with only loopback).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

from kserve.errors import InvalidInput
from kserve.ray import RayModel
from ray import serve
from ray.exceptions import RayTaskError
from ray.serve.exceptions import BackPressureError
from starlette.requests import Request
from starlette.responses import JSONResponse

from predictors.common.admission import Admission
from predictors.common.metrics import ModelMetrics
from predictors.common.model_dir import check_model_dir
from predictors.common.runtime import Batcher, BatcherFactory, RuntimeOptions


def _model_class(kind: str):
    if kind == "extractor":
        from predictors.extractor.model import CourseExtractor

        return CourseExtractor
    if kind == "chatbot":
        from predictors.chatbot.model import Chatbot

        return Chatbot
    raise ValueError(f"unknown predictor kind {kind!r}")


class ServeBatcher:
    """Ray Serve's `@serve.batch` as a runtime batcher (`submit(items)`): the forward runs on
    the replica's inference thread with whatever Serve has gathered."""

    def __init__(
        self, forward: Callable[[list], Sequence], executor: Executor, *, max_batch_size: int, max_latency_ms: float
    ) -> None:
        self.forward = forward
        self.executor = executor
        self._one = serve.batch(max_batch_size=max_batch_size, batch_wait_timeout_s=max_latency_ms / 1000)(self._many)

    async def _many(self, items: list) -> list:
        return list(await asyncio.get_running_loop().run_in_executor(self.executor, self.forward, items))

    async def submit(self, items: Sequence) -> list:
        return list(await asyncio.gather(*(self._one(item) for item in items)))


def serve_batcher(max_batch_size: int, max_latency_ms: float) -> BatcherFactory:
    def make(forward: Callable[[list], Sequence], executor: Executor, metrics: ModelMetrics | None = None) -> Batcher:
        # Serve's own queue is not ours to see: the replica's forwards are timed by the runtime.
        return ServeBatcher(forward, executor, max_batch_size=max_batch_size, max_latency_ms=max_latency_ms)

    return make


@serve.deployment
class PredictorDeployment:
    """One replica: a predictor (CourseExtractor or Chatbot) loaded once, batched by Ray."""

    def __init__(
        self,
        kind: str,
        name: str,
        model_dir: str,
        max_batch_size: int = 64,
        max_batch_latency_ms: float = 5.0,
        options: dict | None = None,
    ) -> None:
        # Serve bounds the replica's queue (max_queued_requests) and the caller keeps the deadline
        # (ServeModel here, Serve's proxy under `serve run`): no admission of its own.
        runtime = RuntimeOptions(
            batcher=serve_batcher(max_batch_size, max_batch_latency_ms), max_queue=None, request_timeout_s=None
        )
        self.model = _model_class(kind)(
            name, model_dir, max_batch_size=max_batch_size, runtime=runtime, **(options or {})
        )
        self.model.load()

    def load(self) -> bool:  # RayModel.load() calls this: the replica loaded in __init__
        return self.model.ready

    async def __call__(self, body: Any, headers: dict | None = None) -> Any:
        if isinstance(body, Request):  # `serve run`: Ray's proxy hands over the HTTP request
            try:
                response, _ = await self.model(await body.body(), headers=dict(body.headers))
            except InvalidInput as exc:
                return JSONResponse({"error": exc.reason}, status_code=400)
            return response
        return await self.model(body, headers=headers)


class ServeModel(RayModel):
    """The SDK's RayModel behind our admission (queue bound and deadline, as without Ray), with a
    replica's input error raised again as itself: kserve's InvalidInput, a 400."""

    def __init__(self, name: str, handle, model_dir: str, max_queue: int | None, timeout_s: float | None) -> None:
        super().__init__(name, handle)
        self.model_dir = model_dir  # checked before Ray starts (fail fast, one-line reason)
        self.admission = Admission(name, max_queue, timeout_s)

    async def __call__(self, body, headers=None, verb=None):
        return await self.admission(self._call(body, headers))

    async def _call(self, body, headers):
        try:
            return await super().__call__(body, headers=headers)
        except RayTaskError as exc:  # the replica raised: Ray wraps it with the remote traceback
            if isinstance(exc.cause, InvalidInput):
                raise exc.cause from None
            raise
        except BackPressureError as exc:  # the replicas' queues are full
            raise self.admission.refusal() from exc


def deploy(kind: str, args: argparse.Namespace, options: dict | None = None) -> ServeModel:
    """Start a local Ray node and the deployment (stopped at exit); the RayModel for the ModelServer."""
    import ray

    check_model_dir(args.model_dir)  # before minutes of Ray start-up
    atexit.register(shutdown)
    ray.init(
        address="local",
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
    serve.start(http_options={"location": "NoServer"})
    app = PredictorDeployment.options(
        name=args.model_name,
        num_replicas=args.num_replicas,
        # Serve's default of 5 requests in flight per replica would cap @serve.batch at 5 items.
        max_ongoing_requests=max(args.max_batch_size, 5),
        max_queued_requests=args.max_queue,  # Serve's default is unbounded
        ray_actor_options={"num_cpus": args.num_cpus, "num_gpus": args.num_gpus},
    ).bind(
        kind,
        args.model_name,
        args.model_dir,
        args.max_batch_size,
        args.max_batch_latency_ms,
        {"device": args.device, **(options or {})},
    )
    handle = serve.run(app, name=args.model_name, route_prefix=None)
    return ServeModel(args.model_name, handle, args.model_dir, args.max_queue, args.request_timeout_s)


def shutdown() -> None:
    """Stop the local Ray node and everything on it (a graceful serve.shutdown() can hang once
    SIGTERM has reached Ray's own processes)."""
    import ray

    ray.shutdown()


def build_app(args: dict) -> Any:
    """For `serve run` with a config file: `args` holds kind, name, model_dir and optional settings."""
    return PredictorDeployment.bind(
        args["kind"],
        args.get("name", args["kind"]),
        args["model_dir"],
        int(args.get("max_batch_size", 64)),
        float(args.get("max_batch_latency_ms", 5)),
        {"device": args.get("device", "auto")},
    )
