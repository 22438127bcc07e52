"""Capitalization as a model input, for bases whose tokenizer lowercases everything.

The packaged MiniLM is uncased: "Physics was brutal this week" (a class) and "i never liked
physics" (a subject) reach it as the same tokens, and so do "Python" and "python". Writers use
capital letters to mark names, so the extractor feeds that bit back in through BERT's token
type ids: type 1 on every token of a word that starts with a capital letter, type 0 elsewhere.
The architecture stays a plain `*ForTokenClassification` (the type embedding is already there);
fine-tuning learns what type 1 means. The flag is stored in the model's config, so serving
computes the same ids the model was trained with.
"""

from __future__ import annotations

from collections.abc import Sequence

CONFIG_KEY = "case_feature"  # config.json: true when the model was trained with these ids


def lowercases(tokenizer) -> bool:
    """True when the tokenizer maps "A" and "a" to the same tokens (an uncased vocabulary)."""
    return tokenizer.tokenize("Course Alpha") == tokenizer.tokenize("course alpha")


def supports(config) -> bool:
    """A model can carry the flag only if it has at least two token types (RoBERTa has one)."""
    return getattr(config, "type_vocab_size", 0) >= 2


def enabled(config) -> bool:
    return bool(getattr(config, CONFIG_KEY, False)) and supports(config)


def word_start(text: str, position: int) -> int:
    """Start of the run of letters and digits that holds `position` (punctuation stands alone)."""
    while text[position].isalnum() and position > 0 and text[position - 1].isalnum():
        position -= 1
    return position


def case_type_ids(text: str, offsets: Sequence[Sequence[int]]) -> list[int]:
    """One id per token: 1 when the token's word starts with a capital letter.

    `offsets` are the tokenizer's character offsets; special and padding tokens are (0, 0).
    Every sub-token of a word gets its word's id, so "##ing" carries the word's capital.
    """
    ids = []
    for start, end in offsets:
        if end <= start:
            ids.append(0)
            continue
        ids.append(int(text[word_start(text, int(start))].isupper()))
    return ids
