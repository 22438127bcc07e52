from predictors.extractor.spans import to_spans


def entity(start, end, group="COURSE", score=0.987654):
    return {"entity_group": group, "start": start, "end": end, "score": score, "word": "ignored"}


def test_offsets_are_exact_and_edges_trimmed():
    text = 'I take "Linear Algebra", and (Organic Chemistry).'
    spans = to_spans(text, [entity(7, 23), entity(29, 48)])
    assert [(s.text, s.start, s.end) for s in spans] == [("Linear Algebra", 8, 22), ("Organic Chemistry", 30, 47)]
    assert all(text[s.start : s.end] == s.text for s in spans)
    assert spans[0].score == 0.9877


def test_other_groups_and_empty_spans_are_dropped():
    text = "Meet at Zoom ..."
    assert to_spans(text, [entity(8, 12, group="LOC"), entity(13, 16)]) == []


def test_a_bracket_inside_the_name_is_kept():
    text = "Biology (Honors)"
    (span,) = to_spans(text, [entity(0, 16)])
    assert span.text == "Biology (Honors)"


def spans_of(text, *names):
    """Entities covering each name exactly as it first occurs in `text`."""
    out = []
    for name in names:
        start = text.index(name)
        out.append(entity(start, start + len(name)))
    return [s.text for s in to_spans(text, out)]


def test_dangling_conjunctions_and_lowercase_prepositions_are_trimmed():
    text = "Also see Probability and Real Analysis I; took Optics with Dr. Okafor, then in Latin America"
    assert spans_of(text, "Probability and", "and Real Analysis I", "Optics with", "in Latin America") == [
        "Probability",
        "Real Analysis I",
        "Optics",
        "Latin America",
    ]


def test_words_inside_a_title_and_a_capitalized_article_stay():
    text = "The Idea of the Self and Music from Bach to the Beatles"
    assert spans_of(text, "The Idea of the Self", "Music from Bach to the Beatles") == [
        "The Idea of the Self",
        "Music from Bach to the Beatles",
    ]


def test_a_hashtag_loses_its_hash_and_a_lone_letter_is_no_name():
    text = "#orgo again, and I said no"
    assert spans_of(text, "#orgo", "I") == ["orgo"]


def test_a_group_across_table_columns_is_split_and_the_number_columns_dropped():
    text = "FALL 2023   ASL 102  American Sign Language II  4.00  B+ | Deaf Culture\tA"
    start = text.index("American")
    spans = to_spans(text, [entity(start, len(text))])
    assert [s.text for s in spans] == ["American Sign Language II", "Deaf Culture"]  # "4.00", "B+", "A": no name
    for span in spans:
        assert text[span.start : span.end] == span.text
    single = "Intro to Viticulture and Enology 3.0"  # one space: no column, the trim decides
    assert [s.text for s in to_spans(single, [entity(0, len(single))])] == [single]


def test_hyphens_and_slashes_at_the_edges_are_trimmed():
    text = "LAW 6120-001 and -WLD-221L / ECE 3310/"
    spans = to_spans(text, [entity(0, 9), entity(17, 26), entity(27, len(text))])
    assert [s.text for s in spans] == [
        "LAW 6120",
        "WLD-221L",
        "ECE 3310",
    ]


def test_a_group_across_lines_is_split_at_each_line_break():
    text = "Religion: Theory and Practice, Modern Ecology\nFoundations of Diplomacy\n  Web Design"
    start = text.index("Modern")
    spans = to_spans(text, [entity(start, len(text))])
    assert [s.text for s in spans] == ["Modern Ecology", "Foundations of Diplomacy", "Web Design"]
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_markdown_marks_bullets_and_arrows_at_the_edges_are_trimmed():
    text = "**CS 61A** > `Data Structures` → • Programming in C++"
    spans = to_spans(text, [entity(0, 11), entity(11, 29), entity(30, len(text))])
    assert [s.text for s in spans] == ["CS 61A", "Data Structures", "Programming in C++"]  # the "+" of C++ stays
