"""The decoding chosen on the dev part: the span score threshold with the best dev F1 (the
lowest of a tie), and the "O" logit offset with it (the smallest of a tie)."""

from __future__ import annotations

from predictors.extractor.schema import CourseSpan
from training.extractor.evaluation import parse_markup
from training.extractor.train import OFFSETS, THRESHOLDS, choose_decoding, choose_threshold


def span(text, name, score):
    start = text.index(name)
    return CourseSpan(text=name, start=start, end=start + len(name), score=score)


def test_a_threshold_that_drops_only_wrong_spans_is_chosen():
    examples = [parse_markup(f"forum\ttook [[Optics {i}]] and physics") for i in range(10)]
    scored = [[span(e.text, e.courses[0], 0.99), span(e.text, "physics", 0.62)] for e in examples]
    threshold = choose_threshold(examples, scored)
    assert 0.62 < threshold <= 0.99
    assert threshold == min(t for t in THRESHOLDS if t > 0.62)  # the lowest that removes them


def test_no_gain_keeps_the_lowest_threshold():
    examples = [parse_markup(f"forum\ttook [[Optics {i}]]") for i in range(10)]
    scored = [[span(e.text, e.courses[0], 0.97)] for e in examples]
    assert choose_threshold(examples, scored) == THRESHOLDS[0]


def test_any_gain_raises_the_threshold():
    # 100 right spans; one wrong span scored 0.5: dropping it gains F1 0.005, and it is dropped.
    examples = [parse_markup(f"forum\ttook [[Optics {i}]] and physics") for i in range(100)]
    scored = [[span(e.text, e.courses[0], 0.99)] for e in examples]
    scored[0].append(span(examples[0].text, "physics", 0.5))
    assert choose_threshold(examples, scored) == min(t for t in THRESHOLDS if t > 0.5)


def test_an_offset_that_brings_back_missed_names_is_chosen_with_its_threshold():
    examples = [parse_markup(f"forum\tgot an A in [[Torts {i}]] and physics") for i in range(10)]

    def scored_at(offset):
        # the names surface from offset 2 on, scored 0.9; "physics" scores higher the lower "O" goes
        names = [[span(e.text, e.courses[0], 0.9)] if offset >= 2 else [] for e in examples]
        return [spans + [span(e.text, "physics", 0.5 + offset / 10)] for e, spans in zip(examples, names, strict=True)]

    offset, threshold = choose_decoding(examples, scored_at)
    assert offset == 2.0  # the smallest that finds them: 3 and 4 find them too
    assert 0.7 < threshold <= 0.9  # and "physics" (0.7 at offset 2) stays out


def test_no_gain_keeps_the_model_as_trained():
    examples = [parse_markup(f"forum\ttook [[Optics {i}]]") for i in range(10)]
    seen = []

    def scored_at(offset):
        seen.append(offset)
        return [[span(e.text, e.courses[0], 0.97)] for e in examples]

    assert choose_decoding(examples, scored_at) == (0.0, THRESHOLDS[0])
    assert seen == list(OFFSETS)
