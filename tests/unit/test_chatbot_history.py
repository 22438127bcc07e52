"""History trimming and request validation for the chatbot: no weights needed."""

from __future__ import annotations

import pytest
from kserve.errors import InvalidInput

from predictors.chatbot.generation import PromptTooLong, keep_from
from predictors.chatbot.schema import ChatInstance
from predictors.common.payload import parse_instances


@pytest.mark.parametrize(
    ("lengths", "budget", "start"),
    [
        ([3], 10, 0),
        ([3, 3, 3], 10, 0),  # everything fits
        ([5, 3, 3], 10, 1),  # the oldest turn goes first
        ([9, 1, 1, 3], 5, 1),  # keeps the newest turns that fit, contiguous
        ([2, 8, 2], 10, 1),
        ([4, 4, 10], 10, 2),  # only the message fits
    ],
)
def test_keep_from_trims_oldest_turns(lengths, budget, start):
    assert keep_from(lengths, budget) == start
    assert sum(lengths[start:]) <= budget


def test_a_message_that_cannot_fit_is_refused():
    with pytest.raises(PromptTooLong, match="needs 11 tokens"):
        keep_from([1, 11], 10)


def parse(body, **context):
    return parse_instances(body, ChatInstance, 8, {"max_message_chars": 50, **context})


def test_defaults_are_greedy_and_reproducible():
    (instance,) = parse({"instances": [{"message": "hi"}]})
    assert instance.history == [] and instance.do_sample is False and instance.max_new_tokens == 64


@pytest.mark.parametrize(
    ("instance", "message"),
    [
        ({}, "message: Field required"),
        ({"message": ""}, "message is empty"),
        ({"message": 5}, "message: Input should be a valid string"),
        ({"message": "x" * 51}, "at most 50"),
        ({"message": "hi", "history": "hello"}, "history"),
        ({"message": "hi", "history": ["ok", 3]}, "history[1]"),
        ({"message": "hi", "history": ["y" * 51]}, "history[0] has 51 characters"),
        ({"message": "hi", "max_new_tokens": 0}, "max_new_tokens"),
        ({"message": "hi", "max_new_tokens": 257}, "max_new_tokens"),
        ({"message": "hi", "max_new_tokens": 2.5}, "max_new_tokens"),
        ({"message": "hi", "temperature": 0}, "temperature"),
        ({"message": "hi", "temperature": -1}, "temperature"),
        ({"message": "hi", "temperature": True}, "temperature"),
        ({"message": "hi", "top_p": 0}, "top_p"),
        ({"message": "hi", "top_p": 1.5}, "top_p"),
        ({"message": "hi", "do_sample": "yes"}, "do_sample"),
        ({"message": "hi", "mood": "happy"}, "mood"),
    ],
)
def test_bad_instances_name_the_field(instance, message):
    with pytest.raises(InvalidInput) as error:
        parse({"instances": [instance]})
    assert message in str(error.value)
    assert "instances[0]" in str(error.value)
