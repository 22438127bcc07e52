"""Routes beside the SDK's: the tutorial's POST /chat and GET /health, and the model card on
GET /v1/models/<name> (registered before the SDK's readiness route, which it extends)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from kserve.errors import ModelNotReady

from predictors.chatbot.model import Chatbot
from predictors.chatbot.schema import SeedChatRequest
from predictors.common.metrics import label_requests
from predictors.common.payload import documented_body, ready_body, validate


def seed_router(model: Chatbot) -> APIRouter:
    router = APIRouter(tags=["tutorial"], dependencies=[Depends(label_requests(model.name))])

    @router.post(
        "/chat",
        summary="Reply to a message (the tutorial's contract; pass `history` back to continue)",
        openapi_extra=documented_body(SeedChatRequest),
    )
    async def chat(request: Request) -> dict:
        body = validate(SeedChatRequest, await ready_body(request, model))
        instance = {"message": body.message, "history": body.history, "max_new_tokens": body.max_length}
        # The V1 path itself (preprocess, admission, batcher, postprocess), one instance.
        (prediction,) = (await model({"instances": [instance]}))[0]["predictions"]
        return prediction

    @router.get("/health", summary="The tutorial's health check")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    return router


def card_router(model: Chatbot) -> APIRouter:
    """GET /v1/models/<name>: the SDK's readiness answer plus the model card. Included before the
    SDK registers its routes, so this one answers that path."""
    router = APIRouter(tags=["V1"])

    @router.get(f"/v1/models/{model.name}", summary="Readiness, plus the card of the model that answers")
    async def model_ready() -> dict:
        if not model.ready:
            raise ModelNotReady(model.name)  # the SDK's own 503
        return {"name": model.name, "ready": True, "model": model.card}

    return router
