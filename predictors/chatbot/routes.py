"""The tutorial's routes on the same server: POST /chat and GET /health."""

from __future__ import annotations

from fastapi import APIRouter, Request
from kserve.errors import ModelNotReady

from predictors.chatbot.model import Chatbot
from predictors.chatbot.schema import SeedChatRequest
from predictors.common.payload import decode_json, validate


def seed_router(model: Chatbot) -> APIRouter:
    router = APIRouter(tags=["tutorial"])

    @router.post(
        "/chat",
        summary="Reply to a message (the tutorial's contract; pass `history` back to continue)",
        # Parsed by hand so a bare `curl -d` (form content type) works; errors are HTTP 4xx.
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": SeedChatRequest.model_json_schema()}}}},
    )
    async def chat(request: Request) -> dict:
        if not model.ready:
            raise ModelNotReady(model.name)
        body = validate(SeedChatRequest, decode_json(await request.body()))
        instance = model.instance(
            {"message": body.message, "history": body.history, "max_new_tokens": body.max_length})
        (reply,) = await model.run([model.prompt(instance)], [instance])
        return {"response": reply, "history": [*instance.history, instance.message, reply]}

    @router.get("/health", summary="The tutorial's health check")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    return router
