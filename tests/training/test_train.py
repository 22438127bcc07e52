"""A real (tiny) fine-tuning run: the full pipeline writes a loadable, deterministic model dir."""

from __future__ import annotations

import hashlib
import json

import pytest
from transformers import AutoConfig, AutoModelForTokenClassification

from predictors.extractor import train

pytestmark = pytest.mark.slow


def run(out, seed=5):
    return train.train(train.parse_args([
        "--output-dir", str(out), "--train-size", "64", "--eval-size", "32", "--max-steps", "4",
        "--batch-size", "16", "--seed", str(seed),
    ]))


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
    config = AutoConfig.from_pretrained(out)
    assert config.id2label == {0: "O", 1: "B-COURSE", 2: "I-COURSE"}
    stored = json.loads((out / "metrics.json").read_text())
    assert stored == metrics
    for split in ("heldout", "realistic"):
        assert set(stored[split]) == {"precision", "recall", "f1"}
        assert 0.0 <= stored[split]["f1"] <= 1.0
    assert stored["train_seconds"] > 0
    AutoModelForTokenClassification.from_pretrained(out)  # loads back


def test_same_seed_same_weights(two_runs):
    (first, _), (second, _) = two_runs
    assert digest(first / "model.safetensors") == digest(second / "model.safetensors")
