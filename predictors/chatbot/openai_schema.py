"""The OpenAI chat-completions request, as this predictor accepts it, and how it maps to DialoGPT.

DialoGPT knows only turns: user and assistant messages become the history (oldest first) and
the last message, which must be the user's, is the new one. It was never trained with a system
prompt, so system (and developer) messages are accepted and left out of the prompt.
Sampling follows the model's own generation config: greedy unless `temperature` > 0 is asked for.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

from predictors.chatbot.generation import Settings
from predictors.chatbot.schema import MAX_HISTORY_TURNS

MAX_STOP_STRINGS = 4


class TextPart(BaseModel):
    type: Literal["text"]
    text: StrictStr


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")  # name, tool fields: accepted, unused

    role: Literal["system", "developer", "user", "assistant"]
    content: StrictStr | list[TextPart]

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class StreamOptions(BaseModel):
    include_usage: StrictBool = False


class ChatCompletionRequest(BaseModel):
    # Fields OpenAI clients send that do not apply here (user, metadata, ...) are ignored, as
    # other OpenAI-compatible servers do; the ones below are checked.
    model_config = ConfigDict(extra="ignore")

    model: StrictStr
    messages: list[Message] = Field(min_length=1, max_length=MAX_HISTORY_TURNS + 1)
    max_tokens: StrictInt | None = Field(None, ge=1, le=256)
    max_completion_tokens: StrictInt | None = Field(None, ge=1, le=256)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    stop: StrictStr | list[StrictStr] | None = None
    seed: StrictInt | None = None
    n: StrictInt = Field(1, ge=1, le=1, description="Only one choice per request")
    stream: StrictBool = False
    stream_options: StreamOptions | None = None

    @model_validator(mode="after")
    def _check(self) -> ChatCompletionRequest:
        if isinstance(self.stop, list) and len(self.stop) > MAX_STOP_STRINGS:
            raise ValueError(f"stop: at most {MAX_STOP_STRINGS} strings")
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options: only with stream: true")
        return self

    @property
    def stops(self) -> list[str]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return [s for s in stops if s]

    def settings(self) -> Settings:
        limit = self.max_completion_tokens or self.max_tokens or Settings.max_new_tokens
        sampled = bool(self.temperature)
        return Settings(
            max_new_tokens=limit,
            do_sample=sampled,
            temperature=self.temperature if sampled else Settings.temperature,
            top_p=self.top_p if sampled and self.top_p is not None else Settings.top_p,
        )

    def turns(self) -> tuple[list[str], str, list[int]]:
        """(history, the new message, the index of each turn's message) with system messages left out."""
        kept = [(i, m) for i, m in enumerate(self.messages) if m.role in ("user", "assistant")]
        if not kept or kept[-1][1].role != "user":
            raise ValueError("messages: the last user or assistant message must be the user's")
        return [m.text for _, m in kept[:-1]], kept[-1][1].text, [i for i, _ in kept]
