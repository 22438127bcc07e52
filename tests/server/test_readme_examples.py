"""The README's example requests, sent to `make run`'s stack, get the replies the README shows.

The build is deterministic (seeded training, greedy replies by default), so a chatbot reply must
match exactly; a score matches when rounded to the decimals the README shows."""

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
        ok = isinstance(actual, int | float) and round(Decimal(str(actual)), places) == shown
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


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize(("name", "path", "body", "response"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_readme_example_gets_the_documented_reply(stack: str, name: str, path: str, body: str, response: str):
    # as `curl -d` sends it: a form content type, which the predictors parse as JSON all the same
    answer = httpx.post(
        f"{stack}{path}", content=body, timeout=60, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 200, answer.text
    differences = matches(json.loads(response, parse_float=Decimal), answer.json())
    assert not differences, f"README example {name}: {differences}; the reply was {answer.text}"
