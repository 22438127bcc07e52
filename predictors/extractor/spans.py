"""From the pipeline's aggregated entities to course spans whose offsets are exact."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from predictors.extractor.schema import CourseSpan

COURSE = "COURSE"
# Markdown emphasis and code marks, list bullets and arrows included ("**CS 61A**", "A > B").
_TRIM = " \t\r\n\"'“”‘’.,;:!?()[]#-–—/|*_`<>=~•→»«"
# A name never starts or ends with a bare conjunction ("Probability and" is the tail of a list),
# nor with a lowercase preposition or article ("Optics with", "in Latin America").
_EDGE_WORD = re.compile(
    r"^(?:(?i:and|or)|&|in|of|for|with|to|at|from|by|on|the|a|an)(?:\s+|$)"
    r"|\s+(?:(?i:and|or)|&|in|of|for|with|to|at|from|by|on|the|a|an)$"
)


# Columns of a table, schedule or transcript row, and lines: a name is single-spaced and never
# spans a tab, a run of spaces, a pipe or a line break (list items and headings are lines).
_COLUMN_GAP = re.compile(r"\s*\n\s*|\t|\s{2,}|\s\|\s")


def to_spans(text: str, entities: Iterable[Mapping]) -> list[CourseSpan]:
    """Keep COURSE groups, split them at column gaps, trim stray whitespace/quotes/punctuation/
    conjunctions at the edges, drop empties and pieces without a letter ("4.00" next to a title).

    Offsets index the original string, so `text[start:end] == span.text` always holds.
    """
    spans = []
    for entity in entities:
        if entity.get("entity_group") != COURSE:
            continue
        start, end = int(entity["start"]), int(entity["end"])
        pieces: list[tuple[int, int]] = []
        cursor = start
        for gap in _COLUMN_GAP.finditer(text, start, end):
            pieces.append((cursor, gap.start()))
            cursor = gap.end()
        pieces.append((cursor, end))
        for piece_start, piece_end in pieces:
            a, b = _trim(text, piece_start, piece_end)
            name = text[a:b]
            if sum(c.isalnum() for c in name) < 2:  # a lone "I" or "M" is no name
                continue
            if len(pieces) > 1 and not any(c.isalpha() for c in name):
                continue  # a credits or grade column
            spans.append(CourseSpan(text=name, start=a, end=b, score=round(float(entity["score"]), 4)))
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
