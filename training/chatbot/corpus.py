"""The chatbot's dialogues, as lists of turns (user first), and the measure of its replies.

Training data: the English dialogues of the PyPI package `chatterbot-corpus` and the project's
own dialogues in `dialogues/` (small talk and campus life, written for this project in the
same YAML format). Held-out data: dialogues whose bot turns are training turns and whose user
turns are paraphrases no training dialogue contains (`training/data/chat_heldout/`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import yaml

#: The chatterbot files whose dialogues are what a new user tries first.
PROBE_CATEGORIES = ("greetings", "conversations")
PROJECT_DIR = Path(__file__).resolve().parent / "dialogues"
MEASURED_TURNS = 3  # user turns 1..3 of each dialogue
#: What the bot says to a turn it cannot place (a reply of dialogues/smalltalk.yml).
UNSURE_REPLY = "Sorry, I didn't understand that. Could you say it another way?"


def corpus_dir() -> Path:
    import chatterbot_corpus

    return Path(chatterbot_corpus.__file__).parent / "data" / "english"


def normalize(text: str) -> str:
    return " ".join(text.split())


def load_dialogues(directory: Path | None = None) -> dict[str, list[list[str]]]:
    """category (file stem) -> conversations, each a list of at least two non-empty turns."""
    dialogues: dict[str, list[list[str]]] = {}
    for path in sorted((directory or corpus_dir()).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        conversations = []
        for conversation in data.get("conversations") or []:
            if not isinstance(conversation, list):
                continue
            turns = [t for t in (normalize(str(t)) for t in conversation if t is not None) if t]
            if len(turns) >= 2:
                conversations.append(turns)
        dialogues[path.stem] = conversations
    return dialogues


def project_categories(project_dir: Path = PROJECT_DIR) -> list[str]:
    """The categories (file stems) of the project's own dialogues."""
    return sorted(path.stem for path in project_dir.glob("*.yml"))


def training_dialogues(project_dir: Path = PROJECT_DIR) -> dict[str, list[list[str]]]:
    """The chatterbot corpus and the project's dialogues (file stems do not collide)."""
    corpus, project = load_dialogues(), load_dialogues(project_dir)
    if clash := set(corpus) & set(project):
        raise ValueError(f"{project_dir}: {sorted(clash)} also name chatterbot-corpus files")
    return {**corpus, **project}


def sentences(dialogues: dict[str, list[list[str]]]) -> set[str]:
    """Every turn of the training data: a reply is well-formed when it is one of them."""
    return {turn for conversations in dialogues.values() for turns in conversations for turn in turns}


def with_lowercase_user_turns(conversations: list[list[str]]) -> list[list[str]]:
    """Copies whose user turns (0, 2, 4, ...) are lower-cased: people type `hi`, not `Hi`."""
    lowered = []
    for turns in conversations:
        copy = [t.lower() if i % 2 == 0 else t for i, t in enumerate(turns)]
        if copy != turns:
            lowered.append(copy)
    return lowered


def probes(conversations: Iterable[Sequence[str]], turns: int = MEASURED_TURNS) -> list[list[tuple[list[str], str]]]:
    """For user turns 1..`turns`: the distinct (true history, user message) pairs at that turn."""
    by_turn: list[dict[tuple[tuple[str, ...], str], None]] = [{} for _ in range(turns)]
    for conversation in conversations:
        for k in range(turns):
            if 2 * k + 1 >= len(conversation):  # the user turn needs a reply in the dialogue
                break
            by_turn[k].setdefault((tuple(conversation[: 2 * k]), conversation[2 * k]), None)
    return [[(list(history), message) for history, message in seen] for seen in by_turn]


def well_formed(
    reply_fn: Callable[[list[tuple[list[str], str]]], list[str]],
    conversations: Iterable[Sequence[str]],
    known: set[str],
    turns: int = MEASURED_TURNS,
    fallback: str = "",
) -> dict[str, dict[str, float | int]]:
    """Per user turn: how many greedy replies, given the dialogue's true history, are a sentence
    of the training data (`known`), how many of those are UNSURE_REPLY, how many are the
    predictor's `fallback` (never well-formed) and how many are empty."""
    result = {}
    for k, pairs in enumerate(probes(conversations, turns), start=1):
        replies = reply_fn(pairs) if pairs else []
        good = sum(normalize(r) in known for r in replies)
        result[f"turn{k}"] = {
            "replies": len(replies),
            "well_formed": good,
            "rate": round(good / len(replies), 4) if replies else 0.0,
            "unsure": sum(normalize(r) == UNSURE_REPLY for r in replies),
            "fallback": sum(bool(fallback) and r == fallback for r in replies),
            "empty": sum(not r.strip() for r in replies),
        }
    return result


def phrasings(conversations: Iterable[Sequence[str]]) -> dict[str, list[str]]:
    """Bot turn -> the distinct user turns that come right before it: the phrasings of one intent."""
    before: dict[str, dict[str, None]] = {}
    for turns in conversations:
        for i in range(0, len(turns) - 1, 2):
            before.setdefault(turns[i + 1], {}).setdefault(turns[i], None)
    return {reply: list(users) for reply, users in before.items()}


def noisy(text: str, rng: random.Random, vocabulary: Sequence[str], rate: float = 0.1) -> str:
    """A user turn as people also type it: words dropped or swapped, lower case, no final mark."""
    words = text.split()
    kept = [w for w in words if rng.random() >= rate] or words
    kept = [rng.choice(vocabulary) if rng.random() < rate else w for w in kept]
    text = " ".join(kept)
    if rng.random() < 0.3:
        text = text.lower()
    if rng.random() < 0.3:
        text = text.rstrip("?.!")
    return text or words[0]


def augmented(
    conversations: Sequence[Sequence[str]], copies: int, seed: int, unfamiliar: float = 0.0, noise: float = 0.1
) -> list[list[str]]:
    """`copies` variants of each conversation: the bot turns kept, each user turn swapped for
    another phrasing of the same intent half of the time, then made noisy. A model that saw only
    the exact phrasings mixes sentences when a user words a turn differently; this teaches it
    that the reply depends on the intent, and that a reply, once begun, is one sentence.
    A share `unfamiliar` of the user turns become a jumble of known words answered with
    UNSURE_REPLY: what the bot should say to a turn it cannot place, rather than word salad."""
    rng = random.Random(seed)
    options = phrasings(conversations)
    vocabulary = sorted({w for turns in conversations for t in turns[0::2] for w in t.split()})
    copies_out = []
    for _ in range(copies):
        for turns in conversations:
            variant = list(turns)
            for i in range(0, len(turns) - 1, 2):
                if rng.random() < unfamiliar:
                    variant[i] = " ".join(rng.sample(vocabulary, min(rng.randint(2, 9), len(vocabulary))))
                    variant[i + 1] = UNSURE_REPLY
                    continue
                user = rng.choice(options[turns[i + 1]]) if rng.random() < 0.5 else turns[i]
                variant[i] = noisy(user, rng, vocabulary, noise)
            copies_out.append(variant)
    return copies_out
