"""Synthetic BIO data for course-name extraction, split so evaluation measures generalisation.

Each example is a sentence plus the character spans of its course names. Train and eval draw
from disjoint course titles, nicknames, code names *and* templates, so the eval score is about
unseen courses in unseen phrasing. Labels are aligned to the first sub-token of each word.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, replace
from pathlib import Path

from training.extractor import catalog, distractors
from training.extractor.genres import GENRE_TEMPLATES
from training.extractor.templates import TEMPLATES, TRAINING_ONLY

LABELS: tuple[str, ...] = ("O", "B-COURSE", "I-COURSE")
LABEL2ID = {label: i for i, label in enumerate(LABELS)}
IGNORE = -100  # Trainer's loss skips this label id

SLOT = re.compile(r"\{(\w+)\}")
# A course code is a course mention wherever it stands: alone ("CS50") or printed next to its
# title in a catalog line ("MATH 221: Linear Algebra" holds two mentions). One rule for codes
# keeps the labels free of contradictions the model would otherwise have to learn around.
COURSE_SLOTS = frozenset({"c", "t", "cc", "nick", "code", "long", "mooc", "xcode"})
# Genres whose writers type in lower case most (whole lines, titles).
CASUAL = frozenset({"chat", "forum"})
# Lowercase names that are catalog titles too ("linear algebra"): as fillers they would be
# labelled both ways, so the generic-subject filler leaves them out.
_TITLE_KEYS = {re.sub(r"[^a-z0-9]", "", t.lower()) for _, titles in catalog.COURSES.values() for t in titles}
# Templates write "the {adj} {t}": determiners in the adjective list would double up.
_DETERMINERS = ("the ", "my ", "our", "that ", "this ")


def _descriptions(count: int = 400, seed: int = 7) -> tuple[str, ...]:
    """Catalog descriptions: "Covers entropy, mitosis and regression. Lab fee applies." """
    rng = random.Random(seed)
    topics = tuple(t for t in catalog.TOPICS + distractors.GENERIC_SUBJECTS if t[0].islower())
    found: dict[str, None] = {}
    while len(found) < count:
        picked = rng.sample(topics, rng.randint(1, 4))
        listed = picked[-1]
        if len(picked) > 1:
            listed = ", ".join(picked[:-1]) + rng.choice((" and ", ", and ")) + listed
        text = f"{rng.choice(distractors.DESCRIPTION_OPENERS)} {listed}."
        if rng.random() < 0.5:
            text += " " + rng.choice(distractors.DESCRIPTION_TAILS)
        found[text] = None
    return tuple(found)


def _rooms(count: int = 120, seed: int = 11) -> tuple[str, ...]:
    rng = random.Random(seed)
    rooms = {
        f"{rng.choice(distractors.BUILDINGS)} {rng.randint(1, 4)}{rng.randint(0, 60):02d}"
        + rng.choice(("", "", "A", "B"))
        for _ in range(count)
    }
    return catalog.ROOMS + tuple(sorted(rooms))


# A title of one plain word ("Topology", "Torts"): once lowercased, a subject (docs/annotation.md).
ONE_WORD = re.compile(r"[A-Z][a-z]+")
# What makes a lowercase title still a course: a number, a sequence, a subtitle, a course word
# ("intro to embedded systems", "calc 2", "orgo lab"). Without one, "numerical methods" or
# "latin poetry" in lower case is a subject, and docs/annotation.md says a subject is no course.
COURSE_MARKER = re.compile(
    r"\d|:|\b(?:I|II|III|IV|Intro|Introduction|Topics|Seminar|Principles|Foundations|Lab|Laboratory|Honors"
    r"|Workshop|Studio|Practicum|Survey|Part|for)\b"
)


def subject_like(title: str) -> bool:
    """Whether `title`, typed in lower case, reads as a subject rather than a course."""
    return bool(ONE_WORD.fullmatch(title)) or not COURSE_MARKER.search(title)


# Plain fillers: slot name -> values. None of them is a course.
FILLERS: dict[str, tuple[str, ...]] = {
    "prof": catalog.PROFESSORS,
    "uni": catalog.UNIVERSITIES,
    "company": catalog.COMPANIES,
    "book": catalog.BOOKS,
    "author": catalog.AUTHORS,
    "major": catalog.MAJORS,
    "degree": catalog.DEGREES,
    "job": catalog.JOB_TITLES,
    "student": catalog.STUDENTS,
    "term": catalog.TERMS,
    "day": catalog.DAYS,
    "time": catalog.TIMES,
    "room": _rooms(),
    "city": catalog.CITIES,
    "credits": ("1", "2", "3", "4", "5", "3.0", "4.0"),
    "grade": ("A", "A-", "B+", "B", "C", "A+"),
    "num": ("42", "58", "62", "71", "35%", "80"),
    "topic": catalog.TOPICS,
    # The look-alikes of real writing (distractors.py).
    "software": distractors.SOFTWARE,
    "platform": distractors.PLATFORMS,
    "acronym": distractors.BOOK_ACRONYMS,
    "band": distractors.BANDS,
    "podcast": distractors.PODCASTS,
    "show": distractors.TV_SHOWS,
    "lab": distractors.LABS,
    "program": distractors.PROGRAMS,
    "gened": distractors.GENED_CODES,
    "req": distractors.REQUIREMENTS,
    "subject": tuple(s for s in distractors.GENERIC_SUBJECTS if re.sub(r"[^a-z0-9]", "", s) not in _TITLE_KEYS),
    "field": distractors.FIELDS,
    "dept": distractors.DEPARTMENTS,
    "unit": distractors.UNITS,
    "award": distractors.AWARDS,
    "person": distractors.PEOPLE,
    "inst": distractors.INSTITUTIONS,
    "adj": tuple(a for a in distractors.ADJECTIVES if not a.lower().startswith(_DETERMINERS)),
    "heading": distractors.HEADINGS,
    "section": distractors.SECTIONS,
    "desc": _descriptions(),
}
ALL_CODES: tuple[str, ...] = tuple(sorted({c for codes, _ in catalog.COURSES.values() for c in codes}))


@dataclass(frozen=True)
class Example:
    text: str
    spans: tuple[tuple[int, int], ...]  # [start, end) character offsets of each course name
    genre: str = ""  # kind of writing, for per-genre scores
    optional: tuple[tuple[int, int], ...] = ()  # spans that may be marked or not (evaluation only)

    @property
    def courses(self) -> list[str]:
        return [self.text[s:e] for s, e in self.spans]


@dataclass(frozen=True)
class Vocabulary:
    """What one side of the split may draw from."""

    titles: tuple[tuple[str, str], ...]  # (title, area)
    nicknames: tuple[str, ...]
    code_names: tuple[str, ...]
    templates: tuple[tuple[str, str], ...]  # (group, template)
    long_titles: tuple[str, ...] = ()  # multi-part titles: "Rivers and Cities: Water in Europe"
    mooc_titles: tuple[str, ...] = ()  # online-course titles of 8-16 words
    odd_codes: tuple[str, ...] = ()  # "8.01x", "CS 107E", "15-213"
    books: tuple[str, ...] = ()  # textbooks titled like courses; FILLERS["book"] when empty


def _take(items, held_out: bool, every: int):
    """Every `every`-th item (offset 2) is held out; the rest train."""
    return tuple(x for i, x in enumerate(items) if (i % every == 2) == held_out)


def compose_titles(subjects: tuple[str, ...], per_subject: int = 2) -> tuple[str, ...]:
    """Titles built from subject + pattern ("Topics in Urban Planning"), fixed for a given input."""
    rng = random.Random(len(subjects))
    titles = []
    for subject in subjects:
        patterns = catalog.TITLE_PATTERNS
        if subject.startswith("the "):  # "the City" reads right only after a preposition
            patterns = tuple(p for p in patterns if re.search(r"(^|of|in|to|about|and|&) \{s\}", p))
        for pattern in rng.sample(patterns, per_subject):
            other = rng.choice([s for s in subjects if s != subject])
            title = pattern.format(s=subject, s2=other)
            titles.append(title[0].upper() + title[1:])  # "the City and ..." starts a title
    return tuple(titles)


def synthetic_titles(count: int, subjects: tuple[str, ...], exclude: set[str], seed: int = 0) -> tuple[str, ...]:
    """`count` distinct open-vocabulary titles ("Coastal Hydrology II", "Folklore & Optics")
    over catalog.FIELD_HEADS and `subjects`, none of them in `exclude`, in any spelling."""
    rng = random.Random(seed)
    heads, modifiers = catalog.FIELD_HEADS + subjects, catalog.FIELD_MODIFIERS
    titles: dict[str, None] = {}  # insertion-ordered set: deterministic for a given seed
    excluded = {_loose(e) for e in exclude}
    for _ in range(count * 50):
        if len(titles) == count:
            break
        field = rng.choice(heads)
        if field.startswith("the "):
            continue
        # A lone subject ("Engineering") is a major far more often than a course: always qualify it.
        if rng.random() < 0.6 or field in subjects:
            field = f"{rng.choice(modifiers)} {field}"
        roll = rng.random()
        if roll < 0.3:
            title = field + rng.choice(catalog.TITLE_LEVELS)
        elif roll < 0.55:
            pattern = rng.choice(catalog.TITLE_PATTERNS)
            title = pattern.format(s=field, s2=rng.choice(heads))
        else:
            title = field
        title = title[0].upper() + title[1:]
        if _loose(title) not in excluded:
            titles[title] = None
    return tuple(titles)


def synthetic_code_names(count: int, exclude: set[str], seed: int = 0) -> tuple[str, ...]:
    """Numbered course names as schools print them: MIT "6.042", CMU "15-112", "21M.301";
    none in `exclude`, in any spelling."""
    rng = random.Random(seed)

    def subject_number() -> str:  # MIT numbers mostly start with zeros: 6.001, 6.042, 8.01, 5.111
        return rng.choice(
            (
                f"00{rng.randint(1, 9)}",
                f"0{rng.randint(10, 99)}",
                f"0{rng.randint(1, 9)}",
                f"{rng.randint(100, 999)}",
                f"{rng.randint(10, 99)}",
            )
        )

    shapes = (
        lambda: f"{rng.randint(1, 24)}.{subject_number()}",
        lambda: f"{rng.randint(1, 24)}.{subject_number()}",
        lambda: f"{rng.randint(2, 99)}-{rng.randint(100, 999)}",
        lambda: f"{rng.randint(1, 24)}{rng.choice('MAS')}.{subject_number()}",
        lambda: f"{rng.choice(ALL_CODES)}{rng.choice(('', ' '))}{rng.randint(1, 299)}{rng.choice('ABCLNn')}",
    )
    names: dict[str, None] = {}
    excluded = {_loose(e) for e in exclude}
    while len(names) < count:
        name = rng.choice(shapes)()
        if _loose(name) not in excluded:
            names[name] = None
    return tuple(names)


def _loose(name: str) -> str:
    """A name's spelling-insensitive key: "Lin Alg", "linalg" and "Lin Algs" share it."""
    return re.sub(r"[^a-z0-9]", "", name.lower()).rstrip("s")


def split_vocabulary(every: int = 5, synthetic: int = 0, real_writing: bool = False) -> tuple[Vocabulary, Vocabulary]:
    """Disjoint train/eval vocabularies: split by title (within each area), by subject of the
    composed titles and by template (within each group), so both sides cover every area and
    every way of writing. `synthetic` open-vocabulary titles (and a fifth as many numbered
    course names), with the templates that keep them from overreaching, join the training side
    only, so evaluation stays on real catalog names in held-out phrasing. So do, with
    `real_writing`, the genres of genres.py and the name shapes of distractors.py: what real
    writing looks like is measured on the hand-written real-writing set, not here."""

    def side(held_out: bool) -> Vocabulary:
        titles = tuple(
            (title, area)
            for area, (_, area_titles) in catalog.COURSES.items()
            for title in _take(area_titles, held_out, every)
        ) + tuple((title, "") for title in compose_titles(_take(catalog.SUBJECTS, held_out, every)))
        templates = tuple(
            (group, template)
            for group, group_templates in TEMPLATES.items()
            for template in _take(group_templates, held_out, every)
        )
        return Vocabulary(
            titles=titles,
            nicknames=_take(catalog.NICKNAMES, held_out, every),
            code_names=_take(catalog.CODE_NAMES, held_out, every),
            templates=templates,
        )

    train, held_out = side(False), side(True)
    exclude = {t for t, _ in held_out.titles} | set(held_out.nicknames) | set(held_out.code_names)
    # The catalog spells some names twice ("Lin Alg", "linalg"; the title "Torts", the nickname
    # "Torts"): a spelling of a held-out name must not train.
    held = {_loose(name) for name in exclude}

    def unheld(names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(n for n in names if _loose(n) not in held)

    train = replace(
        train,
        titles=tuple((t, a) for t, a in train.titles if _loose(t) not in held),
        nicknames=unheld(train.nicknames),
        code_names=unheld(train.code_names),
    )
    if synthetic:
        subjects = _take(catalog.SUBJECTS, False, every)  # the held-out ones compose eval titles
        train = replace(
            train,
            titles=train.titles + tuple((t, "") for t in synthetic_titles(synthetic, subjects, exclude)),
            code_names=train.code_names + synthetic_code_names(synthetic // 5, exclude),
            templates=train.templates + TRAINING_ONLY,
        )
    if real_writing:
        # Textbooks are titled like courses ("Foundations of Thermal Physics, 3rd ed."): the same
        # kind of title in a book's place teaches the context, not the words, to decide.
        titles_as_books = synthetic_titles(300, catalog.FIELD_HEADS, exclude, seed=99)
        train = replace(
            train,
            titles=train.titles + tuple((t, "") for t in unheld(distractors.ONE_WORD_TITLES)),
            books=catalog.BOOKS + titles_as_books,
            nicknames=train.nicknames + unheld(distractors.NICKNAMES),
            templates=train.templates + tuple((g, t) for g, ts in GENRE_TEMPLATES.items() for t in ts),
            long_titles=unheld(distractors.LONG_TITLES),
            mooc_titles=unheld(distractors.MOOC_TITLES),
            odd_codes=unheld(distractors.ODD_CODES),
        )
    return train, held_out


def _random_code(rng: random.Random, area: str | None) -> str:
    codes = catalog.COURSES[area][0] if area in catalog.COURSES else ALL_CODES
    dept = rng.choice(codes)
    number = str(rng.randint(100, 499)) + rng.choice(("", "", "", "A", "L"))
    sep = rng.choice((" ", " ", " ", "", "-"))
    return f"{dept}{sep}{number}"


def render(template: str, group: str, vocab: Vocabulary, rng: random.Random) -> Example:
    """Fill a template's slots, recording where course names land."""
    chat = group in CASUAL
    text, spans = [], []
    length = 0
    areas: list[str] = []  # area of each course so far, so {code} matches its title
    subject_words: list[bool] = []  # per span: a subject once lowercased ("topology", "numerical methods")

    def course_mention(slot: str) -> str:
        title, area = rng.choice(vocab.titles)
        areas.append(area)
        if slot == "t":
            subject_words.append(subject_like(title))
            return title
        subject_words.append(False)
        if slot == "nick":
            return rng.choice(vocab.nicknames)
        if slot == "cc":
            return rng.choice(vocab.code_names) if rng.random() < 0.5 else _random_code(rng, None)
        if slot == "long":
            return rng.choice(vocab.long_titles)
        if slot == "mooc":
            return rng.choice(vocab.mooc_titles)
        if slot == "xcode":
            return rng.choice(vocab.odd_codes)
        if vocab.long_titles and rng.random() < 0.15:  # real writing's shapes (training side only)
            return rng.choice(vocab.long_titles) if rng.random() < 0.8 else rng.choice(vocab.odd_codes)
        roll = rng.random()  # slot "c": how people mention a course in running text
        if roll < 0.08:
            return rng.choice(vocab.nicknames)
        if roll < 0.13:
            return rng.choice(vocab.code_names)
        # Titles are typed in lower case in chat only (1 in 10), and only those that still read
        # as a course; in edited writing a lowercase phrase is a topic (docs/annotation.md).
        subject_words[-1] = subject_like(title)
        if chat and roll < 0.23 and not subject_words[-1]:
            return title.lower()
        return title

    for i, piece in enumerate(SLOT.split(template)):
        if i % 2 == 0:
            value = piece
        elif piece == "code":
            value = _random_code(rng, areas[-1] if areas else None)
            spans.append((length, length + len(value)))
            subject_words.append(False)
        elif piece in COURSE_SLOTS:
            value = course_mention(piece)
            spans.append((length, length + len(value)))
        else:
            value = rng.choice(vocab.books if piece == "book" and vocab.books else FILLERS[piece])
            if value[:4].lower() == "the " and "".join(text)[-4:].lower() == "the ":
                value = value[4:]  # "the {lab}" with "the Robotics Lab": one "the"
        text.append(value)
        length += len(value)

    sentence = "".join(text)
    # People type in lower case in chat; offsets survive since our text is ASCII.
    if chat and rng.random() < 0.3 and sentence.isascii():
        sentence = sentence.lower()
        # "i never liked topology", "numerical methods is fun": lowercased, a title with no course
        # marker reads as a subject, not a course.
        spans = [span for span, subject in zip(spans, subject_words, strict=True) if not subject]
    return Example(sentence, tuple(spans), genre=group)


# Clauses are combined and wrapped so the model sees courses in contexts no single template
# has; without this it memorises the templates and misses unseen phrasing.
JOINERS: tuple[str, ...] = (" ", " ", ". ", "; ", " — ", ", and ", "\n", " but ", " so ", "! ")
PREFIXES: tuple[str, ...] = ("",) * 8 + (
    "Hey all, ",
    "Quick question: ",
    "Update: ",
    "So ",
    "Honestly, ",
    "btw ",
    "FYI ",
    "> ",
    "- ",
    "* ",
    "1. ",
    "Re: ",
    "EDIT: ",
    "ok so ",
    "Hi everyone! ",
)
SUFFIXES: tuple[str, ...] = ("",) * 8 + (
    " lol",
    " :)",
    " thanks!",
    " Any advice?",
    " (edited)",
    " !!",
    " haha",
    " ...",
    " thx",
    " 🙏",
)


GENRE_PAIRS = frozenset((g, t) for g, ts in GENRE_TEMPLATES.items() for t in ts)


def generate(vocab: Vocabulary, count: int, seed: int, genre_share: float = 0.5) -> list[Example]:
    """`count` examples of one to three clauses, cycling through the templates evenly.

    When the vocabulary has real writing's genres (genres.py), a clause comes from them with
    probability `genre_share` and from the sentence templates otherwise: 900 genre templates
    cycled with 200 others would leave the plain sentences a fifth of the data."""
    rng = random.Random(seed)
    pools = [[p for p in vocab.templates if p not in GENRE_PAIRS], [p for p in vocab.templates if p in GENRE_PAIRS]]
    pools = [pool for pool in pools if pool]
    positions = [0] * len(pools)

    def next_clause() -> Example:
        which = 0 if len(pools) == 1 else int(rng.random() < genre_share)
        order = pools[which]
        if positions[which] % len(order) == 0:
            rng.shuffle(order)
        group, template = order[positions[which] % len(order)]
        positions[which] += 1
        return render(template, group, vocab, rng)

    examples = []
    for _ in range(count):
        clauses = rng.choices((1, 2, 3), weights=(0.7, 0.25, 0.05))[0]
        text, spans, genre = rng.choice(PREFIXES), [], ""
        for i in range(clauses):
            if i:
                text += rng.choice(JOINERS)
            clause = next_clause()
            spans.extend((s + len(text), e + len(text)) for s, e in clause.spans)
            text += clause.text
            genre = genre or clause.genre  # the first clause names the example's kind
        examples.append(Example(text + rng.choice(SUFFIXES), tuple(spans), genre=genre))
    return examples


def word_label(start: int, spans: tuple[tuple[int, int], ...]) -> int:
    """BIO label of the word starting at character `start`."""
    for span_start, span_end in spans:
        if start == span_start:
            return LABEL2ID["B-COURSE"]
        if span_start < start < span_end:
            return LABEL2ID["I-COURSE"]
    return LABEL2ID["O"]


def align_labels(
    offsets: list[tuple[int, int]],
    word_ids: list[int | None],
    spans: tuple[tuple[int, int], ...],
) -> list[int]:
    """One label per token: the word's label on its first sub-token, IGNORE elsewhere."""
    labels, previous = [], None
    for (start, _), word in zip(offsets, word_ids, strict=True):
        if word is None or word == previous:
            labels.append(IGNORE)
        else:
            labels.append(word_label(start, spans))
        previous = word
    return labels


def load_annotated(path: Path) -> list[Example]:
    """Hand-annotated JSONL: {"text": ..., "courses": [names in order of appearance]}."""
    examples = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        text, spans, cursor = record["text"], [], 0
        for name in record["courses"]:
            start = text.find(name, cursor)
            if start < 0:
                raise ValueError(f"{path}:{line_no}: {name!r} not found in text after {cursor}")
            spans.append((start, start + len(name)))
            cursor = start + len(name)
        examples.append(Example(text, tuple(spans)))
    return examples
