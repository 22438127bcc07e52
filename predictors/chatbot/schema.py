"""The chatbot's request shapes: one V1 instance model, reused by the seed route and the docs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationInfo, field_validator

from predictors.chatbot.generation import Settings
from predictors.common.payload import bounded_text

DEFAULTS = Settings()  # the API's defaults are the generation's
DEFAULT_MAX_MESSAGE_CHARS = 2000
MAX_HISTORY_TURNS = 200

EXAMPLE_INSTANCE = {
    "message": "how are you?",
    "history": ["hi", "hello!"],
    "max_new_tokens": 40,
    "temperature": 0.7,
    "top_p": 0.9,
    "do_sample": True,
}


def _limit(info: ValidationInfo) -> int:
    return (info.context or {}).get("max_message_chars", DEFAULT_MAX_MESSAGE_CHARS)


class ChatInstance(BaseModel):
    """One V1 instance. Only `message` is required; the defaults give greedy, reproducible replies."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_INSTANCE]})

    message: StrictStr = Field(description="The user's new message")
    history: list[StrictStr] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="Earlier turns, oldest first, alternating user/bot",
    )
    max_new_tokens: int = Field(DEFAULTS.max_new_tokens, ge=1, le=256, strict=True)
    temperature: float = Field(1.0, gt=0, le=100)
    top_p: float = Field(1.0, gt=0, le=1)
    do_sample: StrictBool = False
    no_repeat_ngram_size: int = Field(
        DEFAULTS.no_repeat_ngram_size,
        ge=0,
        le=16,
        strict=True,
        description="No n-gram of this size twice in the reply (0: off)",
    )
    repetition_penalty: float = Field(
        DEFAULTS.repetition_penalty, ge=1.0, le=10.0, description="transformers' repetition penalty"
    )

    @field_validator("message")
    @classmethod
    def _message(cls, text: str, info: ValidationInfo) -> str:
        return bounded_text(text, _limit(info), "message")

    @field_validator("history")
    @classmethod
    def _history(cls, turns: list[str], info: ValidationInfo) -> list[str]:
        for i, turn in enumerate(turns):
            bounded_text(turn, _limit(info), f"history[{i}]", allow_empty=True)
        return turns

    @field_validator("temperature", "top_p", "repetition_penalty", mode="before")
    @classmethod
    def _no_bools(cls, value):
        if isinstance(value, bool):  # JSON true would otherwise pass as 1.0
            raise ValueError("must be a number")
        return value


class SeedChatRequest(BaseModel):
    """The tutorial's POST /chat body; `history` is optional so the tutorial's curl still works."""

    model_config = ConfigDict(extra="forbid")

    message: StrictStr
    max_length: int = Field(100, ge=1, le=256, strict=True, description="Most tokens in the reply")
    history: list[StrictStr] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS)
