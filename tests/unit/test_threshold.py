"""The span score threshold chosen on the dev part: precision first (F0.5), the lowest that is not clearly worse."""

from __future__ import annotations

from predictors.extractor.evaluation import parse_markup
from predictors.extractor.schema import CourseSpan
from predictors.extractor.train import THRESHOLDS, choose_threshold, f_beta


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


def test_a_gain_within_the_tolerance_does_not_raise_the_threshold():
    # 100 right spans; one wrong span scored 0.5: dropping it gains F0.5 0.008, under 0.01.
    examples = [parse_markup(f"forum\ttook [[Optics {i}]] and physics") for i in range(100)]
    scored = [[span(e.text, e.courses[0], 0.99)] for e in examples]
    scored[0].append(span(examples[0].text, "physics", 0.5))
    assert choose_threshold(examples, scored) == THRESHOLDS[0]
    assert choose_threshold(examples, scored, tolerance=0.0) > 0.5


def test_precision_is_worth_more_than_recall():
    # 10 courses; 6 scored 0.99, and 4 right plus 2 wrong spans scored 0.62. Keeping the 0.62
    # spans has the better F1 (0.91 vs 0.75), dropping them the better F0.5 (0.88 vs 0.86).
    examples = [parse_markup(f"forum\ttook [[Optics {i}]] and physics") for i in range(10)]
    scored = []
    for i, e in enumerate(examples):
        spans = [span(e.text, e.courses[0], 0.62 if i < 4 else 0.99)]
        if i < 2:
            spans.append(span(e.text, "physics", 0.62))
        scored.append(spans)
    assert choose_threshold(examples, scored) > 0.62


def test_f_beta():
    assert f_beta(1.0, 1.0) == 1.0
    assert f_beta(0.0, 0.0) == 0.0
    assert abs(f_beta(0.5, 1.0, beta=1.0) - 2 / 3) < 1e-9
    assert f_beta(0.9, 0.6) > f_beta(0.6, 0.9)
