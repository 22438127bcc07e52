"""What nginx does in the cluster, for the one-port local stack: serve the UI, strip `/api`.

`frontend/nginx.conf` stays the one description of the layout; this module serves the same
URLs (`/`, `/api/v1/models/<name>...`, `/api/chat`, ...) and copies that file's security headers,
so the UI and its tests behave the same with or without nginx.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"
API_PREFIX = "/api"
UI_FILES = ("index.html", "app.js", "styles.css", "favicon.svg")
_ADD_HEADER = re.compile(r'^\s*add_header\s+(\S+)\s+"([^"]*)"\s+always;', re.MULTILINE)


def security_headers(nginx_conf: Path) -> list[tuple[bytes, bytes]]:
    """The `add_header ... always;` lines of the nginx config, as raw ASGI headers."""
    found = _ADD_HEADER.findall(nginx_conf.read_text(encoding="utf-8"))
    if not found:
        raise ValueError(f'{nginx_conf}: no `add_header NAME "VALUE" always;` lines')
    return [(name.lower().encode(), value.encode()) for name, value in found]


class LikeNginx:
    """ASGI middleware: `/api/x` is served as `/x` (nginx strips the prefix), and every answer,
    errors included, carries the security headers."""

    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(API_PREFIX + "/"):
            raw = scope.get("raw_path")
            scope = {
                **scope,
                "path": scope["path"][len(API_PREFIX) :],
                "raw_path": raw[len(API_PREFIX) :] if raw and raw.startswith(b"/api/") else raw,
            }

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in self.headers}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def ui_router(frontend: Path = FRONTEND) -> APIRouter:
    """GET / and the UI's few static files, each by name (a catch-all would shadow the SDK's routes)."""
    missing = [name for name in UI_FILES if not (frontend / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{frontend}: missing {', '.join(missing)}")
    router = APIRouter(tags=["ui"])
    no_cache = {"Cache-Control": "no-cache"}  # as nginx's `expires -1`: names carry no hash

    def serve(path: Path):
        async def endpoint() -> FileResponse:
            return FileResponse(path, headers=no_cache)

        return endpoint

    router.add_api_route("/", serve(frontend / "index.html"), methods=["GET"], include_in_schema=False)
    for name in UI_FILES:
        router.add_api_route(f"/{name}", serve(frontend / name), methods=["GET"], include_in_schema=False)
    return router


def add_ui(app: FastAPI, frontend: Path = FRONTEND) -> None:
    """Serve the UI on `app` and route `/api/...` to its model routes, as nginx does."""
    app.include_router(ui_router(frontend))
    app.add_middleware(LikeNginx, headers=security_headers(frontend / "nginx.conf"))
