"""The chatbot's training and held-out dialogues, the well-formedness measure and the decoding
guards: no weights needed."""

from __future__ import annotations

import pytest
import torch

from predictors.chatbot.corpus import (
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
from predictors.chatbot.generation import ReplyNoRepeatNGram, complete_sentences, degenerate
from tests.conftest import ROOT

HELDOUT = load_dialogues(ROOT / "tests/data/chat_heldout")


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


def test_well_formed_counts_training_sentences_and_empty_replies():
    conversations = [["hi", "Hello", "how are you?", "Fine."], ["hey", "Hello"]]
    canned = {"hi": "Hello", "hey": "Hel lo com", "how are you?": ""}
    result = well_formed(lambda pairs: [canned[m] for _, m in pairs], conversations,
                         sentences({"x": conversations}))
    assert result["turn1"] == {"replies": 2, "well_formed": 1, "rate": 0.5, "unsure": 0, "empty": 0}
    assert result["turn2"] == {"replies": 1, "well_formed": 0, "rate": 0.0, "unsure": 0, "empty": 1}
    assert result["turn3"]["replies"] == 0


def test_lowercase_copies_touch_user_turns_only():
    assert with_lowercase_user_turns([["Hi", "Hey there", "How are you?", "Good"]]) == [
        ["hi", "Hey there", "how are you?", "Good"]]
    assert with_lowercase_user_turns([["hi", "Hey"]]) == []


@pytest.mark.parametrize(("reply", "bad"), [
    ("", True), ("  ", True), ("... ?!", True), ("the the the the the the the", True),
    ("Hello", False), ("I am doing well.", False), ("No, no, I'm fine, thanks.", False),
])
def test_degenerate(reply, bad):
    assert degenerate(reply) is bad


@pytest.mark.parametrize(("reply", "kept"), [
    ("I like jazz. And also the", "I like jazz."),
    ("Really? I never", "Really?"),
    ("no sentence end", "no sentence end"),
    ('She said "go." Then', 'She said "go."'),
])
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
    conversations = [["hi", "Hello.", "what is your name?", "I'm the demo bot."],
                     ["hey", "Hello.", "who are you", "I'm the demo bot."]]
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
    assert phrasings([["hi", "Hello.", "bye", "Bye!"], ["hey", "Hello."]]) == {
        "Hello.": ["hi", "hey"], "Bye!": ["bye"]}


def test_a_degenerate_reply_is_retried_with_beams_then_replaced():
    from predictors.chatbot.generation import FALLBACK_REPLY, RETRY_BEAMS, DialogueModel, Settings

    calls = []

    def decode(prompts, settings, beams=1):
        calls.append((len(prompts), beams))
        if beams == 1:
            return ["Hello there.", "", "the the the the the the", "..."]
        return ["Fine, thanks.", "", "!!"][:len(prompts)]

    model = DialogueModel.__new__(DialogueModel)  # no weights: only the guard is under test
    model._decode = decode
    replies = model.generate([[1], [2], [3], [4]], Settings())
    assert replies == ["Hello there.", "Fine, thanks.", FALLBACK_REPLY, FALLBACK_REPLY]
    assert calls == [(4, 1), (3, RETRY_BEAMS)]  # one retry call for the three bad replies
