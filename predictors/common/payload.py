"""Turn a V1 request body into validated instances, with 400-worthy errors for bad input."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from kserve import Model
from kserve.errors import InvalidInput, ModelNotReady
from kserve.protocol.infer_type import InferRequest
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

Instance = TypeVar("Instance", bound=BaseModel)


def decode_json(body: Any) -> Any:
    """The SDK hands over raw bytes when the client sent no JSON content type (a bare `curl -d`)."""
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"request body is not UTF-8 text (byte {exc.start} is not)") from None
    if isinstance(body, str):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"request body is not valid JSON: {exc}") from None
    return body


def describe(error: ValidationError, prefix: str = "") -> str:
    """One readable line per problem: `instances[1].text: String should have at least 1 character`."""
    parts = []
    for item in error.errors(include_url=False):
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"])
        where = (prefix.rstrip(".") + loc).lstrip(".") or "body"
        # Our validators' ValueErrors already say what is wrong: drop pydantic's "Value error, ".
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] in ("model_type", "model_attributes_type", "dict_type"):
            message = "must be a JSON object"  # pydantic's text names our internal class
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def validate(model: type[Instance], data: Any, where: str = "", context: dict | None = None) -> Instance:
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise InvalidInput(describe(exc, where)) from None


def bounded_text(text: str, limit: int, what: str, allow_empty: bool = False) -> str:
    """For pydantic validators: refuse a blank or over-long string, naming it in the message."""
    if not allow_empty and not text.strip():
        raise ValueError(f"{what} is empty")
    if len(text) > limit:
        raise ValueError(f"{what} has {len(text)} characters; at most {limit}")
    return text


def v2_strings(request: InferRequest, name: str, max_batch_size: int) -> list[str]:
    """The strings of the V2 BYTES input `name`, one per instance, 1 to `max_batch_size` of them."""
    tensor = request.get_input_by_name(name)
    if tensor is None or tensor.datatype != "BYTES":
        raise InvalidInput(f'V2 request needs a BYTES input named "{name}"')
    values = tensor.data if isinstance(tensor.data, list) else []
    if not 0 < len(values) <= max_batch_size:
        raise InvalidInput(f'input "{name}" needs 1 to {max_batch_size} strings, got {len(values)}')
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values]


def parse_instances(
    body: Any,
    model: type[Instance],
    max_batch_size: int,
    context: dict | None = None,
) -> list[Instance]:
    """`{"instances": [...]}` → validated instances; every failure names the offending field."""
    body = decode_json(body)
    if not isinstance(body, dict):
        raise InvalidInput('request body must be a JSON object like {"instances": [...]}')
    if "instances" not in body:
        raise InvalidInput('request body has no "instances" list')
    instances = body["instances"]
    if not isinstance(instances, list):
        raise InvalidInput('"instances" must be a list')
    if not instances:
        raise InvalidInput('"instances" is empty')
    if len(instances) > max_batch_size:
        raise InvalidInput(f'"instances" has {len(instances)} items; at most {max_batch_size} per request')
    return [validate(model, item, f"instances[{i}].", context) for i, item in enumerate(instances)]


def documented_body(model: type[BaseModel]) -> dict:
    """`openapi_extra` for a route that parses its body by hand (so a bare `curl -d` works)
    but should still show its JSON schema in the docs."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


async def ready_body(request: Request, model: Model) -> Any:
    """The JSON body of a seed-route request, once the model is ready (503 before)."""
    if not model.ready:
        raise ModelNotReady(model.name)
    return decode_json(await request.body())
