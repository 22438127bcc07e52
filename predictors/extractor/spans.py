"""From the pipeline's aggregated entities to course spans whose offsets are exact."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from predictors.extractor.schema import CourseSpan

COURSE = "COURSE"
_TRIM = " \t\r\n\"'“”‘’.,;:!?()[]"


def to_spans(text: str, entities: Iterable[Mapping]) -> list[CourseSpan]:
    """Keep COURSE groups, trim stray whitespace/quotes/punctuation at the edges, drop empties.

    Offsets index the original string, so `text[start:end] == span.text` always holds.
    """
    spans = []
    for entity in entities:
        if entity.get("entity_group") != COURSE:
            continue
        start, end = int(entity["start"]), int(entity["end"])
        while start < end and text[start] in _TRIM:
            start += 1
        while end > start and text[end - 1] in _TRIM and not _closes_group(text, start, end):
            end -= 1
        if start < end:
            spans.append(CourseSpan(text=text[start:end], start=start, end=end,
                                    score=round(float(entity["score"]), 4)))
    return spans


def _closes_group(text: str, start: int, end: int) -> bool:
    """A closing bracket that belongs to the name ("Biology (Honors)") stays."""
    closing = text[end - 1]
    opening = {")": "(", "]": "["}.get(closing)
    return opening is not None and opening in text[start:end - 1]
