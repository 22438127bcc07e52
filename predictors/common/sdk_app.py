"""What we change in the kserve SDK's FastAPI app once it is built, and why.

- Routes that cannot work here answer 404 and leave the OpenAPI document: the V2 repository
  extension (`POST /v2/repository/models/<name>/load|unload`: our models come from --model_dir,
  so `load` can never bring one back, and any client could `unload` a model and leave the server
  answering 404 until it restarts), model versions (none are served) and `:explain` (no
  explainer). The SDK answered 501 or 503 for those.
- A NotImplementedError reaching a client means a feature this predictor does not serve: 404.
- FastAPI's request-validation errors are rebuilt from locations and messages only. The default
  handler echoes each offending input, and Python's JSON parser accepts `Infinity`, which JSON
  cannot encode: a V2 body of `Infinity` made that handler fail with a 500.
- timing_asgi's TimingMiddleware goes: per request it calls getrusage(RUSAGE_SELF) twice, which
  sums the CPU time of every thread, torch's included. Under overload that was a third of the
  event loop's time, and 503s waited behind it (p99 190 ms). Latency stays logged by the SDK's
  model timing and the access log; /metrics is untouched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send
from timing_asgi import TimingMiddleware

from predictors.common import admission

NOT_SERVED = re.compile(r"/v2/repository/.*|/v2/models/[^/]+/versions/.*|/v1/models/[^/]+:explain")
MAX_ERRORS = 5


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


async def _not_served(_: Request, exc: NotImplementedError) -> JSONResponse:
    return JSONResponse({"error": f"not served by this predictor: {exc}"}, status_code=404)


async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    parts = [f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        parts.append(f"... and {len(errors) - MAX_ERRORS} more")
    return JSONResponse({"error": "invalid request: " + "; ".join(parts)}, status_code=422)


def _trim_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict:
        schema = generate()  # FastAPI caches it: trimmed once
        for path in [p for p in schema.get("paths", {}) if NOT_SERVED.fullmatch(p)]:
            del schema["paths"][path]
        return schema

    app.openapi = openapi


def adapt(app: FastAPI, gates: Mapping[str, admission.Admission]) -> None:
    """Apply the changes above; call after the SDK registered its own middleware and handlers."""
    app.user_middleware[:] = [m for m in app.user_middleware if m.cls is not TimingMiddleware]
    app.user_middleware.append(Middleware(NotServed))
    admission.refuse_when_full(app, gates)
    admission.add_handlers(app)
    app.add_exception_handler(NotImplementedError, _not_served)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    _trim_openapi(app)
