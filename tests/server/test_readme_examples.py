"""The README's example requests, sent to `make run`'s stack, get the replies the README shows.

Training is seeded and replies are greedy, so a build answers the same every time; but a model
trained on another CPU lands a little differently (docs/training.md): a score may differ by one
in the last decimal the README shows, and the chatbot may word its reply otherwise. Those two
are allowed; everything else (keys, span texts and offsets, the history the chatbot returns,
with its reply in it) must match exactly."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from tests.unit.test_readme import documented_examples

EXAMPLES = documented_examples()


def matches(shown, actual, where: str = "$") -> list[str]:
    """Where `actual` differs from the documented `shown` (parsed with Decimal floats)."""
    if isinstance(shown, Decimal):
        places = -shown.as_tuple().exponent
        unit = Decimal(1).scaleb(-places)  # one in the last decimal shown: another CPU's build
        ok = isinstance(actual, int | float) and abs(round(Decimal(str(actual)), places) - shown) <= unit
        return [] if ok else [f"{where}: shown {shown}, answered {actual}"]
    if isinstance(shown, dict):
        if not isinstance(actual, dict) or shown.keys() != actual.keys():
            return [f"{where}: shown {shown}, answered {actual}"]
        return [d for key in shown for d in matches(shown[key], actual[key], f"{where}.{key}")]
    if isinstance(shown, list):
        if not isinstance(actual, list) or len(shown) != len(actual):
            return [f"{where}: shown {shown}, answered {actual}"]
        return [d for i, (s, a) in enumerate(zip(shown, actual, strict=True)) for d in matches(s, a, f"{where}[{i}]")]
    return [] if shown == actual else [f"{where}: shown {shown!r}, answered {actual!r}"]


def in_its_words(documented: str, actual: dict) -> str:
    """The documented reply with the chatbot's wording replaced by this build's, everywhere it
    appears (the response and the history), so the rest is still checked exactly."""
    shown = json.loads(documented)
    try:
        before, after = shown["predictions"][0]["response"], actual["predictions"][0]["response"]
    except (KeyError, IndexError, TypeError):
        return documented  # not a chat reply
    if not isinstance(after, str) or not after.strip():
        return documented  # no reply: the exact comparison reports it
    return documented.replace(json.dumps(before)[1:-1], json.dumps(after)[1:-1])


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize(("name", "path", "body", "response"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_readme_example_gets_the_documented_reply(stack: str, name: str, path: str, body: str, response: str):
    # as `curl -d` sends it: a form content type, which the predictors parse as JSON all the same
    answer = httpx.post(
        f"{stack}{path}", content=body, timeout=60, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 200, answer.text
    actual = answer.json()
    differences = matches(json.loads(in_its_words(response, actual), parse_float=Decimal), actual)
    assert not differences, f"README example {name}: {differences}; the reply was {answer.text}"
