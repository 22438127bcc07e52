"""The hand-written training lines: labelled by the guide, rich in negatives, sharing no name or
sentence with an evaluation set; and their name-swapped copies keep every span on a name."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from training.extractor.dataset import split_vocabulary
from training.extractor.evaluation import REALTEXT, load_markup, parse_markup
from training.extractor.written import WRITTEN, load_written, shape, swap_names, written_examples

EVALUATED_GENRES = {"forum", "blog", "catalog", "schedule", "mooc", "readme", "transcript", "email", "news"}


def loose(name):
    return re.sub(r"[^a-z0-9]", "", name.lower()).rstrip("s")


@pytest.fixture(scope="module")
def lines():
    return load_written()


@pytest.fixture(scope="module")
def vocabularies():
    return split_vocabulary(synthetic=300, real_writing=True)


def test_every_genre_of_real_writing_with_a_third_negatives(lines):
    genres = Counter(e.genre for e in lines)
    assert set(genres) >= EVALUATED_GENRES
    assert all(genres[g] >= 100 for g in EVALUATED_GENRES), genres
    negatives = sum(not e.spans for e in lines)
    assert negatives / len(lines) >= 0.33


def test_no_name_or_sentence_of_an_evaluation_set(lines, vocabularies):
    evaluation = load_markup(REALTEXT / "dev.txt") + load_markup(REALTEXT / "test.txt")
    reserved = {loose(e.text[s:t]) for e in evaluation for s, t in e.spans + e.optional}
    _, held_out = vocabularies  # the synthetic held-out split's names must stay unseen too
    reserved |= {loose(t) for t, _ in held_out.titles} | {loose(n) for n in held_out.nicknames + held_out.code_names}
    assert not {e.text for e in lines} & {e.text for e in evaluation}
    for example in lines:
        for name in example.courses:
            assert loose(name) not in reserved, f"{name!r} is an evaluation name"


def test_spans_follow_the_guide(lines):
    for example in lines:
        for name in example.courses:
            assert name == name.strip(), name
            assert not name.startswith(("#", '"', "“", "'")) and not name.endswith(('"', "”")), name
            assert not re.fullmatch(r"(?i)(the )?(course|class|mooc|seminar)", name), name


def test_optional_marks_are_refused(tmp_path):
    (tmp_path / "x.txt").write_text("catalog\t[[?HIST 210]]: [[Empires of the Sea]]\n")
    with pytest.raises(ValueError, match="evaluation files only"):
        load_written(tmp_path)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("CS 61A", "code"),
        ("8.01x", "code"),
        ("cs50", "code"),
        ("orgo", "lower"),
        ("Macro", "title"),
        ("Money, Banking and the State", "long"),
    ],
)
def test_shape(name, kind):
    assert shape(name) == kind


def test_swapped_copies_change_only_the_names(vocabularies):
    train, _ = vocabularies
    original = parse_markup(
        "forum\tTook [[CS 61A]] and #[[ML101]] with [[orgo]]; [[Money, Banking and the State]] next"
    )
    rng = random.Random(0)
    for _ in range(20):
        copy = swap_names(original, train, rng)
        assert len(copy.spans) == len(original.spans)
        names = copy.courses
        bounds = [0, *(i for span in copy.spans for i in span), len(copy.text)]
        between = [copy.text[a:b] for a, b in zip(bounds[::2], bounds[1::2], strict=True)]
        assert between == ["Took ", " and #", " with ", "; ", " next"]  # only the names changed
        assert shape(names[0]) == "code" and " " not in names[1] and names[2] == names[2].lower()
        assert names[3] != "Money, Banking and the State"


def test_each_line_trains_once_plus_variants_of_those_with_a_course(vocabularies, lines):
    train, _ = vocabularies
    positives = sum(bool(e.spans) for e in lines)
    assert len(written_examples(train, variants=2, seed=1, folder=WRITTEN)) == len(lines) + 2 * positives
    assert len(written_examples(train, variants=0, seed=1, folder=WRITTEN)) == len(lines)
