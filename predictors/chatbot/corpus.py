"""Dialogues from the PyPI package `chatterbot-corpus` (English), as lists of turns."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import yaml

#: The files whose opening turns measure whether the tiny model learned to reply.
PROBE_CATEGORIES = ("greetings", "conversations")


def corpus_dir() -> Path:
    import chatterbot_corpus

    return Path(chatterbot_corpus.__file__).parent / "data" / "english"


def load_dialogues(directory: Path | None = None) -> dict[str, list[list[str]]]:
    """category (file stem) -> conversations, each a list of at least two non-empty turns."""
    dialogues: dict[str, list[list[str]]] = {}
    for path in sorted((directory or corpus_dir()).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        conversations = []
        for conversation in data.get("conversations") or []:
            if not isinstance(conversation, list):
                continue
            turns = [" ".join(str(t).split()) for t in conversation if t is not None]
            turns = [t for t in turns if t]
            if len(turns) >= 2:
                conversations.append(turns)
        dialogues[path.stem] = conversations
    return dialogues


def replies(dialogues: dict[str, list[list[str]]]) -> dict[str, set[str]]:
    """Every turn -> the set of turns that follow it anywhere in the corpus."""
    following: dict[str, set[str]] = defaultdict(set)
    for conversations in dialogues.values():
        for turns in conversations:
            for turn, reply in zip(turns, turns[1:], strict=False):
                following[turn].add(reply)
    return dict(following)


def probe_turns(dialogues: dict[str, list[list[str]]]) -> list[str]:
    """The distinct opening turns of the probe files, in corpus order."""
    seen: dict[str, None] = {}
    for category in PROBE_CATEGORIES:
        for turns in dialogues.get(category, []):
            seen.setdefault(turns[0], None)
    return list(seen)


def with_lowercase_user_turns(conversations: list[list[str]]) -> list[list[str]]:
    """Copies whose user turns (0, 2, 4, ...) are lower-cased: people type `hi`, not `Hi`."""
    lowered = []
    for turns in conversations:
        copy = [t.lower() if i % 2 == 0 else t for i, t in enumerate(turns)]
        if copy != turns:
            lowered.append(copy)
    return lowered
