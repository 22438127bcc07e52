"""Hand-written real-writing training lines, and copies of them with other course names.

    training/data/written/*.txt   genre<TAB>text, each course as [[name]] (docs/annotation.md)

The generator's templates teach names; these lines teach the writing around them: forum
posts, catalog entries, schedule rows, MOOC pages, README lines, transcripts, emails and news,
with the look-alikes real writing is full of (books, programs, software, requirement jargon).
Written by the project in its own words, with no name of an evaluation set (tests check both).

Each line trains as written; each line with a course also `variants` more times, with every
name swapped for a training name of the same shape (a code for a code, a lowercase nickname for
a lowercase name, a long title for a long title), so the model learns the context, not the few
hundred names the lines happen to hold. Negatives train once: repeated, they made the model
shy of the short subject-like titles real courses have ("Torts", "Corp Fin").
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from training import DATA_DIR
from training.extractor.dataset import Example, Vocabulary, _random_code
from training.extractor.evaluation import load_markup

WRITTEN = DATA_DIR / "written"

# A code: a short name with a digit ("CS 61A", "8.01x", "ECON-214", "cs50").
CODE = re.compile(r"(?=.*\d)[A-Za-z0-9][\w .+/-]{0,13}")


def load_written(folder: Path = WRITTEN) -> list[Example]:
    """Every line of every *.txt in `folder`; optional marks belong to evaluation files only."""
    examples = []
    for path in sorted(folder.glob("*.txt")):
        for example in load_markup(path):
            if example.optional:
                raise ValueError(f"{path}: [[?name]] marks evaluation files only; a training label is definite")
            examples.append(example)
    return examples


def shape(name: str) -> str:
    """code, lower (typed in lower case), long (five words or more) or title."""
    if CODE.fullmatch(name) and len(name.split()) <= 3:
        return "code"
    if name == name.lower():
        return "lower"
    return "long" if len(name.split()) >= 5 else "title"


def replacement(name: str, vocab: Vocabulary, rng: random.Random, hashtag: bool) -> str:
    kind = shape(name)
    if kind == "code":
        pool = vocab.code_names + vocab.odd_codes
        new = rng.choice(pool) if pool and rng.random() < 0.5 else _random_code(rng, None)
        if name == name.lower():
            new = new.lower()
    elif kind == "lower":
        new = rng.choice(vocab.nicknames + tuple(t for t, _ in vocab.titles)).lower()
    elif kind == "long" and vocab.long_titles:
        new = rng.choice(vocab.long_titles + vocab.mooc_titles)
    else:
        new = rng.choice(vocab.titles)[0]
    return new.replace(" ", "") if hashtag else new  # "#ML101": a hashtag has no spaces


def swap_names(example: Example, vocab: Vocabulary, rng: random.Random) -> Example:
    """The same line with each course name replaced by a training name of its shape."""
    text, spans, cursor = [], [], 0
    length = 0
    for start, end in example.spans:
        before = example.text[cursor:start]
        new = replacement(example.text[start:end], vocab, rng, hashtag=before.endswith("#"))
        text.append(before)
        length += len(before)
        spans.append((length, length + len(new)))
        text.append(new)
        length += len(new)
        cursor = end
    text.append(example.text[cursor:])
    return Example("".join(text), tuple(spans), genre=example.genre)


def written_examples(vocab: Vocabulary, variants: int, seed: int, folder: Path = WRITTEN) -> list[Example]:
    """Each written line, and `variants` name-swapped copies of each line with a course."""
    rng = random.Random(seed)
    lines = load_written(folder)
    return lines + [swap_names(e, vocab, rng) for _ in range(variants) for e in lines if e.spans]
