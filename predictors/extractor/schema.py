"""The extractor's request and response shapes: one place for V1, the seed route and the docs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationInfo, field_validator, model_validator

from predictors.common.payload import bounded_text

DEFAULT_MAX_TEXT_CHARS = 2000

EXAMPLE_TEXT = "This fall I am taking Introduction to Artificial Intelligence and Linear Algebra."
EXAMPLE_INPUT = {"instances": [{"text": EXAMPLE_TEXT}]}
EXAMPLE_OUTPUT = {
    "predictions": [
        {
            "courses": [
                {"text": "Introduction to Artificial Intelligence", "start": 22, "end": 61, "score": 0.99},
                {"text": "Linear Algebra", "start": 66, "end": 80, "score": 0.99},
            ]
        }
    ]
}


class ExtractInstance(BaseModel):
    """One V1 instance (`{"text": ...}` or a bare string) or the seed route's body."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_INPUT["instances"][0]]})

    text: StrictStr = Field(description="Free text to search for course names")

    @model_validator(mode="before")
    @classmethod
    def _bare_string(cls, data: Any) -> Any:
        return {"text": data} if isinstance(data, str) else data

    @field_validator("text")
    @classmethod
    def _bounded(cls, text: str, info: ValidationInfo) -> str:
        return bounded_text(text, (info.context or {}).get("max_text_chars", DEFAULT_MAX_TEXT_CHARS), "text")


class CourseSpan(BaseModel):
    text: str = Field(description="The course name, exactly text[start:end]")
    start: int
    end: int
    score: float = Field(description="Mean confidence of the span's tokens")
