"""Streamed decoding on the built tiny chatbot: per-sequence text, stop strings, cancellation."""

from __future__ import annotations

import pytest

from predictors.chatbot.generation import DialogueModel, Settings
from predictors.chatbot.streaming import StreamSink, stream


@pytest.fixture(scope="module")
def dialogue(chatbot_dir) -> DialogueModel:
    return DialogueModel(chatbot_dir, "cpu")


def test_each_sequence_gets_its_own_text_in_pieces_equal_to_the_plain_decode(dialogue):
    turns = [([], "hi"), (["hi", "Hello"], "how are you?"), ([], "tell me a joke")]
    prompts = [dialogue.prompt_ids(h, m, 64) for h, m in turns]
    pieces: list[list[str]] = [[] for _ in turns]
    results = stream(dialogue, prompts, Settings(), [StreamSink(emit=p.append) for p in pieces])
    plain, _ = dialogue.decode(prompts, Settings())
    for result, got, expected in zip(results, pieces, plain, strict=True):
        assert "".join(got) == result.text
        if result.finish_reason == "stop":  # decode() cuts a reply that hit the limit at its last sentence
            assert result.text == expected


def test_a_cancelled_sequence_leaves_the_batch_within_one_step_while_the_others_run_on(dialogue):
    prompts = [dialogue.prompt_ids([], f"tell me about topic {i}", 200) for i in range(3)]
    emitted = [0, 0, 0]
    cancel_at = 3

    def sink(i: int) -> StreamSink:
        def emit(_: str) -> None:
            emitted[i] += 1

        return StreamSink(emit=emit, cancelled=(lambda: emitted[0] >= cancel_at) if i == 0 else (lambda: False))

    settings = Settings(max_new_tokens=200, do_sample=True, temperature=3.0)  # long replies: EOS is unlikely
    results = stream(dialogue, prompts, settings, [sink(i) for i in range(3)], seed=5)
    assert results[0].finish_reason == "cancelled"
    # It saw its flag before the next token: no more tokens than pieces sent when it was set, plus none.
    assert results[0].completion_tokens <= cancel_at + 1
    assert max(r.completion_tokens for r in results[1:]) > 20  # the others went on decoding


def test_a_stop_string_ends_the_reply_before_it_and_is_never_sent(dialogue):
    prompt = dialogue.prompt_ids([], "what should I study first?", 64)
    (plain,), _ = dialogue.decode([prompt], Settings())
    word = plain.split()[2]
    pieces: list[str] = []
    (result,) = stream(dialogue, [prompt], Settings(), [StreamSink(emit=pieces.append, stop=[word])])
    assert result.text == plain[: plain.index(word)] and result.finish_reason == "stop"
    assert "".join(pieces) == result.text and word not in "".join(pieces)
