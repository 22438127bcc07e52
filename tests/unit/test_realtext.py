"""The real-writing evaluation set: big enough, varied, and independent of the training generator."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from training.extractor import catalog, distractors
from training.extractor.dataset import FILLERS, SLOT, split_vocabulary
from training.extractor.evaluation import REALTEXT, load_markup
from training.extractor.genres import GENRE_TEMPLATES
from training.extractor.templates import TEMPLATES, TRAINING_ONLY

GENRES = {"forum", "blog", "catalog", "schedule", "mooc", "readme", "transcript", "email", "news"}


def loose(name):
    """Spelling-blind key, written out again here so the test can fail: "Lin Alg" == "linalg"."""
    return re.sub(r"[^a-z0-9]", "", name.lower()).rstrip("s")


@pytest.fixture(scope="module")
def parts():
    return {part: load_markup(REALTEXT / f"{part}.txt") for part in ("dev", "test")}


@pytest.fixture(scope="module")
def examples(parts):
    return parts["dev"] + parts["test"]


def test_size_genres_and_negatives(parts, examples):
    assert len(examples) >= 300
    for part in parts.values():
        assert {e.genre for e in part} == GENRES  # every genre in both parts
    negatives = [e for e in examples if not e.spans and not e.optional]
    assert len(negatives) / len(examples) >= 0.25
    per_genre = Counter(e.genre for e in negatives)
    assert all(per_genre[g] >= 0.25 * sum(e.genre == g for e in examples) for g in GENRES)


def test_dev_and_test_are_disjoint(parts):
    assert not {e.text for e in parts["dev"]} & {e.text for e in parts["test"]}
    assert len(parts["test"]) > len(parts["dev"])  # the reported part is the larger one


def test_spans_follow_the_guide(examples):
    for example in examples:
        for start, end in example.spans + example.optional:
            name = example.text[start:end]
            assert name == name.strip(), name
            assert not name.startswith(("#", '"', "“", "'")) and not name.endswith(('"', "”")), name
            assert not re.fullmatch(r"(?i)(the )?(course|class|mooc|seminar)", name), name


def generator_course_names() -> set[str]:
    names = set(catalog.NICKNAMES) | set(catalog.CODE_NAMES) | {t for _, ts in catalog.COURSES.values() for t in ts}
    names |= set(distractors.LONG_TITLES + distractors.MOOC_TITLES + distractors.ODD_CODES + distractors.NICKNAMES)
    for side in split_vocabulary(synthetic=300):  # composed and open-vocabulary titles too
        names |= {t for t, _ in side.titles} | set(side.nicknames) | set(side.code_names)
    return names


def test_no_course_name_is_shared_with_the_training_generator(examples):
    generated = {loose(n) for n in generator_course_names()}
    fillers = {v for values in FILLERS.values() for v in values}
    for example in examples:
        for start, end in example.spans + example.optional:
            name = example.text[start:end]
            assert loose(name) not in generated, f"{name!r} is also a training name"
            assert name not in fillers, f"{name!r} is also a training filler"


def template_pattern(template: str) -> tuple[re.Pattern, int]:
    pieces = SLOT.split(template)
    literal = pieces[::2]
    pattern = "".join(re.escape(p) if i % 2 == 0 else ".+?" for i, p in enumerate(pieces))
    return re.compile(pattern, re.S | re.I), sum(len(re.findall(r"[A-Za-z]{2,}", p)) for p in literal)


def test_no_sentence_is_an_instance_of_a_training_template(examples):
    templates = [t for group in (TEMPLATES | GENRE_TEMPLATES).values() for t in group] + [t for _, t in TRAINING_ONLY]
    for template in templates:
        pattern, words = template_pattern(template)
        if words < 3:  # bare formats like "{code}: {t}" are how catalogs print, not a sentence template
            continue
        for example in examples:
            assert not pattern.fullmatch(example.text), f"{example.text!r} fills the template {template!r}"
