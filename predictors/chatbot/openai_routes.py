"""OpenAI-compatible chat on the chatbot predictor: `GET /openai/v1/models` and
`POST /openai/v1/chat/completions`, whole or streamed as server-sent events.

    curl -sN localhost:8080/openai/v1/chat/completions -H 'content-type: application/json' \\
      -d '{"model": "chatbot", "messages": [{"role": "user", "content": "hi"}], "stream": true}'
    data: {"id": "chatcmpl-…", "object": "chat.completion.chunk", "choices": [{"delta": {"content": "Hello"}, …}], …}
    …
    data: [DONE]

kserve's own OpenAI layer imports vLLM, which these CPU images do not carry; these routes go
through the same runtime as V1 (admission, the inference thread), where concurrent streams
decode together, joining and leaving the running batch between steps (streaming.py). Errors use OpenAI's body,
`{"error": {"message", "type", "param", "code"}}`, so OpenAI clients raise their usual exceptions.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from kserve.errors import InvalidInput
from pydantic import ValidationError

from predictors.chatbot.generation import PromptTooLong
from predictors.chatbot.model import Chatbot
from predictors.chatbot.openai_schema import ChatCompletionRequest
from predictors.chatbot.streaming import StreamJob, StreamResult, StreamSink
from predictors.common import metrics
from predictors.common.admission import Overloaded, RequestTimedOut
from predictors.common.payload import bounded_text, decode_json

MAX_BODY_BYTES = 64 * 1024  # as the UI's nginx: client_max_body_size 64k
CREATED = int(time.time())
DONE = object()


class OpenAIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}
        headers = {"Retry-After": "1"} if self.status == 429 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


def _parse(raw: bytes, model: Chatbot) -> tuple[ChatCompletionRequest, list[int]]:
    if len(raw) > MAX_BODY_BYTES:
        raise OpenAIError(413, f"request body has {len(raw)} bytes; at most {MAX_BODY_BYTES}")
    try:
        request = ChatCompletionRequest.model_validate(decode_json(raw))
    except InvalidInput as exc:
        raise OpenAIError(400, str(exc)) from None
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        raise OpenAIError(
            400, f"{param + ': ' if param else ''}{first['msg'].removeprefix('Value error, ')}", param=param
        ) from None
    if request.model not in model_names(model):
        raise OpenAIError(
            404,
            f"model {request.model!r} is not served here (try {model.name!r})",
            param="model",
            code="model_not_found",
        )
    try:
        history, message, indices = request.turns()
    except ValueError as exc:
        raise OpenAIError(400, str(exc), param="messages") from None
    limit = model.context["max_message_chars"]
    for index, turn in zip(indices, [*history, message], strict=True):
        try:
            bounded_text(turn, limit, f"messages[{index}].content", allow_empty=index != indices[-1])
        except ValueError as exc:
            raise OpenAIError(400, str(exc), param=f"messages[{index}].content") from None
    try:
        prompt = model.dialogue.prompt_ids(history, message, request.settings().max_new_tokens)
    except PromptTooLong as exc:
        raise OpenAIError(400, str(exc), param="messages") from None
    return request, prompt


def model_names(model: Chatbot) -> set[str]:
    """The names a client may use: the predictor's, and the model's own (its card or hub id)."""
    return {model.name, *([model.card["name"]] if model.card else [])}


def _runtime_error(exc: Overloaded | RequestTimedOut) -> OpenAIError:
    if isinstance(exc, Overloaded):
        return OpenAIError(429, str(exc), kind="rate_limit_error", code="overloaded")
    return OpenAIError(503, str(exc), kind="timeout_error", code="deadline_exceeded")


def _finish(result: StreamResult) -> str:
    return "length" if result.finish_reason == "length" else "stop"


def _content(result: StreamResult, stops: list[str]) -> str:
    """The reply a client keeps: the guarded replacement when there is one (streaming.py)."""
    if result.replacement is None:
        return result.text
    hits = [result.replacement.find(s) for s in stops if s in result.replacement]
    return result.replacement[: min(hits)] if hits else result.replacement


def _usage(result: StreamResult, content: str, model: Chatbot) -> dict:
    """Token counts of the prompt and of the completion returned: when the guards replaced the
    reply, that is the replacement's count, not the count of the tokens decoded first."""
    completion = result.completion_tokens
    if result.replacement is not None:
        completion = len(model.dialogue.tokenizer.encode(content, add_special_tokens=False))
    return {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": result.prompt_tokens + completion,
    }


def openai_router(model: Chatbot) -> APIRouter:
    router = APIRouter(prefix="/openai/v1", tags=["OpenAI"])

    @router.get("/models", summary="The model served here (OpenAI's list shape)")
    async def models() -> dict:
        return {
            "object": "list",
            "data": [{"id": model.name, "object": "model", "created": CREATED, "owned_by": "simplechat"}],
        }

    @router.post("/chat/completions", summary="A reply to the conversation; `stream: true` for server-sent events")
    async def chat_completions(http: Request) -> Response:
        if not model.ready:
            return OpenAIError(503, f"model {model.name} is loading", kind="service_unavailable").response()
        try:
            request, prompt = _parse(await http.body(), model)
        except OpenAIError as exc:
            if exc.status in (400, 413):
                metrics.for_model(model.name).reject("invalid_input")
            return exc.response()
        events: asyncio.Queue = asyncio.Queue()
        stopped = False
        sink = StreamSink(
            emit=events.put_nowait,  # called on this loop (streaming.py)
            cancelled=lambda: stopped,
            stop=request.stops,
        )
        job = StreamJob(prompt, request.settings(), sink, request.seed)
        task = asyncio.ensure_future(model.runtime.admit(model.streams.submit([job])))
        task.add_done_callback(lambda _: events.put_nowait(DONE))
        ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        first = await events.get()  # a refusal (429) comes before any text: answer it as an error
        if first is DONE and task.exception() is not None:
            if isinstance(task.exception(), Overloaded | RequestTimedOut):
                return _runtime_error(task.exception()).response()
            raise task.exception()  # a server fault: the app's handler logs it, a JSON 500

        if not request.stream:
            event = first
            while event is not DONE:  # the text is in the result; the pieces only say it is coming
                event = await events.get()
            try:
                (result,) = task.result()
            except (Overloaded, RequestTimedOut) as exc:
                return _runtime_error(exc).response()
            content = _content(result, request.stops)
            return JSONResponse(
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": created,
                    "model": request.model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": _finish(result),
                            "logprobs": None,
                        }
                    ],
                    "usage": _usage(result, content, model),
                }
            )

        def chunk(
            delta: dict,
            finish: str | None = None,
            usage: dict | None = None,
            choices: bool = True,
            extra: dict | None = None,
        ) -> str:
            body = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": request.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}] if choices else [],
            }
            if usage is not None:
                body["usage"] = usage
            body.update(extra or {})
            return f"data: {json.dumps(body)}\n\n"

        async def frames() -> AsyncIterator[str]:
            nonlocal stopped
            try:
                yield chunk({"role": "assistant", "content": ""})
                event = first
                while event is not DONE:
                    # Pieces that queued while the last frame was written go out as one frame:
                    # under load fewer, larger frames, so the event loop keeps up with decoding.
                    text, event = event, None
                    while event is None and not events.empty():
                        piece = events.get_nowait()
                        if piece is DONE:
                            event = DONE
                        else:
                            text += piece
                    yield chunk({"content": text})
                    if event is None:
                        event = await events.get()
                try:
                    (result,) = task.result()
                except (Overloaded, RequestTimedOut) as exc:  # past the deadline, mid-stream
                    error = _runtime_error(exc)
                    yield f"data: {json.dumps({'error': {'message': error.message, 'type': error.kind}})}\n\n"
                else:
                    # The streamed text did not stand (the reply gate): the client shows this instead.
                    # OpenAI clients ignore the extra key; the UI reads it.
                    content = _content(result, request.stops)
                    extra = {"simplechat": {"replace_content": content}} if result.replacement is not None else None
                    yield chunk({}, finish=_finish(result), extra=extra)
                    if request.stream_options and request.stream_options.include_usage:
                        yield chunk({}, usage=_usage(result, content, model), choices=False)
                yield "data: [DONE]\n\n"
            finally:
                stopped = True  # a client that left ends its sequence at the next decoding step

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # nginx: pass each frame on at once
        return StreamingResponse(frames(), media_type="text/event-stream", headers=headers)

    return router
