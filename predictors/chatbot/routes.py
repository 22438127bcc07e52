"""The tutorial's routes on the same server: POST /chat and GET /health."""

from __future__ import annotations

from fastapi import APIRouter, Request

from predictors.chatbot.model import Chatbot
from predictors.chatbot.schema import SeedChatRequest
from predictors.common.payload import documented_body, ready_body, validate


def seed_router(model: Chatbot) -> APIRouter:
    router = APIRouter(tags=["tutorial"])

    @router.post(
        "/chat",
        summary="Reply to a message (the tutorial's contract; pass `history` back to continue)",
        openapi_extra=documented_body(SeedChatRequest),
    )
    async def chat(request: Request) -> dict:
        body = validate(SeedChatRequest, await ready_body(request, model))
        instance = model.instance(
            {"message": body.message, "history": body.history, "max_new_tokens": body.max_length})
        (reply,) = await model.run([model.prompt(instance)], [instance])
        return {"response": reply, "history": [*instance.history, instance.message, reply]}

    @router.get("/health", summary="The tutorial's health check")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    return router
