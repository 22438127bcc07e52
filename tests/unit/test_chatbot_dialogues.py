"""The chatbot's training and held-out dialogues, the well-formedness measure and the decoding
guards: no weights needed."""

from __future__ import annotations

import pytest
import torch

from predictors.chatbot.generation import RETRY_BEAMS, ReplyNoRepeatNGram, complete_sentences, degenerate
from training import DATA_DIR
from training.chatbot.corpus import (
    PROJECT_DIR,
    UNSURE_REPLY,
    augmented,
    load_dialogues,
    phrasings,
    probes,
    sentences,
    training_dialogues,
    well_formed,
    with_lowercase_user_turns,
)

HELDOUT = load_dialogues(DATA_DIR / "chat_heldout")


def key(turn: str) -> str:
    return " ".join(turn.lower().split())


def test_the_project_writes_hundreds_of_short_multi_turn_dialogues():
    project = load_dialogues(PROJECT_DIR)
    assert set(project) == {"smalltalk", "campus"}
    conversations = [c for convs in project.values() for c in convs]
    assert len(conversations) >= 500
    assert all(len(c) in (4, 6) for c in conversations)
    assert all(len(turn.split()) <= 20 for c in conversations for turn in c)


def test_training_joins_the_corpus_and_the_project(tmp_path):
    dialogues = training_dialogues()
    assert {"greetings", "conversations", "smalltalk", "campus"} <= set(dialogues)
    (tmp_path / "greetings.yml").write_text("conversations:\n- - a\n  - b\n")
    with pytest.raises(ValueError, match="greetings"):  # a project file may not shadow a corpus file
        training_dialogues(tmp_path)


def test_heldout_dialogues_are_paraphrases_never_trained_on():
    training = training_dialogues()
    known = {key(t) for t in sentences(training)}
    bot_turns = sentences({k: [c[1::2] for c in v] for k, v in training.items()})
    assert sum(len(v) for v in HELDOUT.values()) >= 150
    for conversations in HELDOUT.values():
        for conversation in conversations:
            assert all(key(turn) not in known for turn in conversation[0::2]), conversation
            assert all(turn in bot_turns for turn in conversation[1::2]), conversation


def test_probes_pair_each_user_turn_with_its_true_history():
    conversations = [["hi", "Hello", "how are you?", "Fine.", "bye", "Bye!"], ["hi", "Hey"]]
    turn1, turn2, turn3 = probes(conversations)
    assert turn1 == [([], "hi")]  # distinct pairs only
    assert turn2 == [(["hi", "Hello"], "how are you?")]
    assert turn3 == [(["hi", "Hello", "how are you?", "Fine."], "bye")]


def test_well_formed_counts_training_sentences_fallbacks_and_empty_replies():
    conversations = [["hi", "Hello", "how are you?", "Fine."], ["hey", "Hello"], ["yo", "Hello"]]
    canned = {"hi": "Hello", "hey": "Hel lo com", "yo": "No idea.", "how are you?": ""}
    result = well_formed(
        lambda pairs: [canned[m] for _, m in pairs], conversations, sentences({"x": conversations}), fallback="No idea."
    )
    assert result["turn1"] == {"replies": 3, "well_formed": 1, "rate": 0.3333, "unsure": 0, "fallback": 1, "empty": 0}
    assert result["turn2"] == {"replies": 1, "well_formed": 0, "rate": 0.0, "unsure": 0, "fallback": 0, "empty": 1}
    assert result["turn3"]["replies"] == 0


def test_lowercase_copies_touch_user_turns_only():
    assert with_lowercase_user_turns([["Hi", "Hey there", "How are you?", "Good"]]) == [
        ["hi", "Hey there", "how are you?", "Good"]
    ]
    assert with_lowercase_user_turns([["hi", "Hey"]]) == []


@pytest.mark.parametrize(
    ("reply", "bad"),
    [
        ("", True),
        ("  ", True),
        ("... ?!", True),
        ("the the the the the the the", True),
        ("Hello", False),
        ("I am doing well.", False),
        ("No, no, I'm fine, thanks.", False),
    ],
)
def test_degenerate(reply, bad):
    assert degenerate(reply) is bad


@pytest.mark.parametrize(
    ("reply", "kept"),
    [
        ("I like jazz. And also the", "I like jazz."),
        ("Really? I never", "Really?"),
        ("no sentence end", "no sentence end"),
        ('She said "go." Then', 'She said "go."'),
    ],
)
def test_a_cut_reply_ends_at_its_last_sentence(reply, kept):
    assert complete_sentences(reply) == kept


def test_no_ngram_repeats_inside_the_reply_but_the_prompt_does_not_count():
    prompt = [5, 6, 7, 5, 6]  # "5 6 -> 7" in the prompt must not ban 7 in the reply
    processor = ReplyNoRepeatNGram(3, start=len(prompt))
    reply = [5, 6, 9, 5, 6]  # in the reply, 5 6 was followed by 9: 9 is banned next
    scores = processor(torch.tensor([prompt + reply]), torch.zeros(1, 12))
    assert scores[0, 9] == -float("inf")
    assert torch.isfinite(scores[0, [i for i in range(12) if i != 9]]).all()
    fresh = processor(torch.tensor([prompt + [5, 6]]), torch.zeros(1, 12))
    assert torch.isfinite(fresh).all()
    assert torch.equal(ReplyNoRepeatNGram(0, 0)(torch.tensor([[1, 1, 1]]), torch.zeros(1, 3)), torch.zeros(1, 3))


def test_augmented_copies_keep_bot_turns_and_vary_user_turns():
    conversations = [
        ["hi", "Hello.", "what is your name?", "I'm the demo bot."],
        ["hey", "Hello.", "who are you", "I'm the demo bot."],
    ]
    copies = augmented(conversations, copies=20, seed=3)
    assert len(copies) == 40
    assert all(c[1::2] == ["Hello.", "I'm the demo bot."] for c in copies)
    firsts = [c[0].lower() for c in copies[:20]]  # copies of the "hi" dialogue
    assert "hey" in firsts  # the other phrasing of the same intent comes in
    assert sum(f in ("hi", "hey") for f in firsts) >= 14  # noise changes some, not most
    assert augmented(conversations, 20, seed=3) == copies  # seeded


def test_unfamiliar_turns_are_answered_with_the_unsure_reply():
    conversations = [["hi", "Hello.", "what is your name?", "I'm the demo bot."]] * 50
    copies = augmented(conversations, copies=1, seed=1, unfamiliar=0.5)
    jumbled = [(c[i], c[i + 1]) for c in copies for i in (0, 2) if c[i + 1] == UNSURE_REPLY]
    assert 25 <= len(jumbled) <= 75
    assert all(user not in ("hi", "what is your name?") for user, _ in jumbled)
    # The reply the model learns for them is one of the project's own dialogue turns.
    assert UNSURE_REPLY in sentences(load_dialogues(PROJECT_DIR))


def test_phrasings_group_user_turns_by_the_reply_that_follows():
    assert phrasings([["hi", "Hello.", "bye", "Bye!"], ["hey", "Hello."]]) == {"Hello.": ["hi", "hey"], "Bye!": ["bye"]}


def test_a_degenerate_reply_is_retried_with_beams_then_replaced():
    from predictors.chatbot.generation import FALLBACK_REPLY, DialogueModel, Settings

    calls = []

    def decode(prompts, settings, beams=1, score=False):
        calls.append((len(prompts), beams))
        if beams == 1:
            return ["Hello there.", "", "the the the the the the", "..."], None
        return ["Fine, thanks.", "", "!!"][: len(prompts)], None

    model = DialogueModel.__new__(DialogueModel)  # no weights: only the guard is under test
    model.decode, model.gate = decode, None
    replies = model.generate([[1], [2], [3], [4]], Settings())
    assert replies == ["Hello there.", "Fine, thanks.", FALLBACK_REPLY, FALLBACK_REPLY]
    assert calls == [(4, 1), (3, RETRY_BEAMS)]  # one retry call for the three bad replies


@pytest.mark.parametrize(
    "do_sample, expected_calls",
    [
        (False, [(3, 1, True), (2, RETRY_BEAMS, True)]),
        (True, [(3, 1, False)]),  # sampled replies are not gated: their log-probability is low by design
    ],
)
def test_a_greedy_reply_below_the_gate_is_retried_and_held_to_the_gate(do_sample, expected_calls):
    from predictors.chatbot.generation import FALLBACK_REPLY, DialogueModel, Settings

    calls = []

    def decode(prompts, settings, beams=1, score=False):
        calls.append((len(prompts), beams, score))
        if beams == 1:  # sure, spliced (unsure), unsure
            replies = ["Hello there.", "I like good math is.", "Take a break."]
            return replies, [-0.1, -0.9, -0.6] if score else None
        return ["I like math.", "Take a short break."][: len(prompts)], [-0.2, -0.55] if score else None

    model = DialogueModel.__new__(DialogueModel)
    model.decode, model.gate = decode, -0.5
    replies = model.generate([[1], [2], [3]], Settings(do_sample=do_sample))
    assert calls == expected_calls
    if do_sample:
        assert replies == ["Hello there.", "I like good math is.", "Take a break."]
    else:  # the beam reply is kept only when it clears the gate itself
        assert replies == ["Hello there.", "I like math.", FALLBACK_REPLY]


def test_reply_log_probability_is_the_same_with_left_padding_as_alone():
    """The gate scores a batch of left-padded prompts; each reply must get the score it gets alone."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from predictors.chatbot.generation import DialogueModel

    torch.manual_seed(0)
    model = DialogueModel.__new__(DialogueModel)
    model.model = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_positions=32, n_embd=16, n_layer=1, n_head=2)).eval()
    prompts, replies, lengths = [[5, 6, 7, 8, 9], [11, 12]], torch.tensor([[20, 21, 22], [30, 31, 0]]), [3, 2]

    def alone(prompt: list[int], reply: list[int]) -> float:
        ids = torch.tensor([prompt + reply])
        logprobs = torch.log_softmax(model.model(input_ids=ids).logits[0, len(prompt) - 1 : -1], dim=-1)
        return logprobs[torch.arange(len(reply)), torch.tensor(reply)].mean().item()

    pad = 0
    padded = torch.tensor([prompts[0], [pad] * 3 + prompts[1]])
    mask = torch.tensor([[1] * 5, [0] * 3 + [1] * 2])
    with torch.inference_mode():
        scores = model._mean_logprob(padded, mask, replies, lengths)
        expected = [alone(prompts[0], [20, 21, 22]), alone(prompts[1], [30, 31])]
    assert scores == pytest.approx(expected, abs=1e-5)
