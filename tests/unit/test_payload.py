import re

import pytest
from kserve.errors import InvalidInput

from predictors.common.payload import decode_json, parse_instances
from predictors.extractor.schema import ExtractInstance


def parse(body, max_batch_size=4, max_text_chars=20):
    return parse_instances(body, ExtractInstance, max_batch_size, {"max_text_chars": max_text_chars})


def test_dicts_and_bare_strings_and_raw_bytes():
    assert [i.text for i in parse({"instances": ["a", {"text": "b"}]})] == ["a", "b"]
    assert [i.text for i in parse(b'{"instances": ["c"]}')] == ["c"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xfe", "not UTF-8 text (byte 0 is not)"),
        ("[]", "JSON object"),
        ({}, 'no "instances"'),
        ({"instances": {"text": "a"}}, "must be a list"),
        ({"instances": []}, "empty"),
        ({"instances": ["a"] * 5}, "at most 4"),
        ({"instances": ["ok", {"text": 1}]}, "instances[1].text"),
        ({"instances": ["x" * 21]}, "at most 20"),
        ({"instances": [{"text": "a", "extra": 1}]}, "instances[0].extra"),
    ],
)
def test_errors_name_the_problem(body, message):
    with pytest.raises(InvalidInput, match=re.escape(message)):
        parse(body)


def test_decode_passes_dicts_through():
    assert decode_json({"a": 1}) == {"a": 1}
