"""Span-level scoring of the real-writing set: markup, optional codes, per-genre counts."""

from __future__ import annotations

import pytest

from training.extractor.evaluation import load_markup, mistakes, parse_markup, score


def test_markup_gives_exact_offsets_and_optional_codes():
    example = parse_markup("catalog\t[[?HIST 210]]: [[Empires of the Sea]] (4 cr). Same as [[GEOG 210]].")
    assert example.genre == "catalog"
    assert example.text == "HIST 210: Empires of the Sea (4 cr). Same as GEOG 210."
    assert example.courses == ["Empires of the Sea", "GEOG 210"]
    assert [example.text[s:e] for s, e in example.optional] == ["HIST 210"]


def test_a_line_without_marks_is_a_negative():
    example = parse_markup("forum\ti never liked physics tbh")
    assert example.spans == () and example.optional == ()


@pytest.mark.parametrize("line", ["no tab here", "forum\tbroken [[mark", "forum\tstray ]] close"])
def test_malformed_lines_are_errors(line):
    with pytest.raises(ValueError):
        parse_markup(line)


def test_load_names_the_bad_line(tmp_path):
    path = tmp_path / "set.txt"
    path.write_text("# comment\nforum\tfine [[Optics]]\n\nforum\tbad [[x\n")
    with pytest.raises(ValueError, match=r"set.txt:4"):
        load_markup(path)


def test_optional_spans_neither_count_for_nor_against():
    example = parse_markup("catalog\t[[?HIST 210]]: [[Empires of the Sea]]")
    code, title = example.optional[0], example.spans[0]
    with_code = score([example], [[code, title]])["overall"]
    without = score([example], [[title]])["overall"]
    assert with_code == without
    assert with_code["precision"] == with_code["recall"] == 1.0


def test_precision_recall_and_negatives_per_genre():
    examples = [
        parse_markup("forum\ttook [[Optics]] and [[Mech 2]]"),
        parse_markup("forum\ti never liked physics"),
        parse_markup("readme\t# [[phys351]] psets"),
        parse_markup("readme\tWritten in Python"),
    ]
    predicted = [
        [(5, 11)],  # Optics right, Mech 2 missed
        [(14, 21)],  # "physics": a wrong span on a negative
        [(2, 9), (10, 15)],  # phys351 right, "psets" wrong
        [],  # clean negative
    ]
    result = score(examples, predicted)
    assert result["overall"]["precision"] == 0.5 and result["overall"]["recall"] == pytest.approx(0.6667, abs=1e-4)
    assert result["overall"]["negatives_clean"] == 0.5
    assert result["genres"]["forum"]["negatives_clean"] == 0.0
    assert result["genres"]["readme"]["precision"] == 0.5 and result["genres"]["readme"]["recall"] == 1.0
    lines = mistakes(examples, predicted)
    assert sum(line.startswith("FP") for line in lines) == 2 and sum(line.startswith("FN") for line in lines) == 1
    assert any("'physics'" in line for line in lines)


def test_a_boundary_error_is_one_miss_and_one_wrong_span():
    example = parse_markup("forum\tthe dreaded [[Optics]] final")
    result = score([example], [[(4, 18)]])["overall"]  # "dreaded Optics"
    assert result["precision"] == 0.0 and result["recall"] == 0.0
