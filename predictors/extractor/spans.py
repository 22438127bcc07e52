"""From the pipeline's aggregated entities to course spans whose offsets are exact."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from predictors.extractor.schema import CourseSpan

COURSE = "COURSE"
_TRIM = " \t\r\n\"'“”‘’.,;:!?()[]#"
# A name never starts or ends with a bare conjunction ("Probability and" is the tail of a list),
# nor with a lowercase preposition or article ("Optics with", "in Latin America").
_EDGE_WORD = re.compile(
    r"^(?:(?i:and|or)|&|in|of|for|with|to|at|from|by|on|the|a|an)(?:\s+|$)"
    r"|\s+(?:(?i:and|or)|&|in|of|for|with|to|at|from|by|on|the|a|an)$"
)


def to_spans(text: str, entities: Iterable[Mapping]) -> list[CourseSpan]:
    """Keep COURSE groups, trim stray whitespace/quotes/punctuation/conjunctions at the edges,
    drop empties.

    Offsets index the original string, so `text[start:end] == span.text` always holds.
    """
    spans = []
    for entity in entities:
        if entity.get("entity_group") != COURSE:
            continue
        start, end = _trim(text, int(entity["start"]), int(entity["end"]))
        if sum(c.isalnum() for c in text[start:end]) >= 2:  # a lone "I" or "M" is no name
            spans.append(CourseSpan(text=text[start:end], start=start, end=end, score=round(float(entity["score"]), 4)))
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop edge punctuation, quotes, '#' and a dangling conjunction, until nothing changes."""
    while True:
        before = (start, end)
        while start < end and text[start] in _TRIM:
            start += 1
        while end > start and text[end - 1] in _TRIM and not _closes_group(text, start, end):
            end -= 1
        edge = _EDGE_WORD.search(text[start:end])
        if edge is not None:
            if edge.start() == 0:
                start += edge.end()
            else:
                end = start + edge.start()
        if (start, end) == before:
            return start, end


def _closes_group(text: str, start: int, end: int) -> bool:
    """A closing bracket that belongs to the name ("Biology (Honors)") stays."""
    closing = text[end - 1]
    opening = {")": "(", "]": "["}.get(closing)
    return opening is not None and opening in text[start : end - 1]
