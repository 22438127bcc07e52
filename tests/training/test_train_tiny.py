"""A real (tiny) chatbot training run: tokenizer, safetensors, model card, well-formedness metrics."""

from __future__ import annotations

import json

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from predictors.chatbot.generation import DialogueModel
from training.chatbot import train_tiny

pytestmark = pytest.mark.slow


def test_tiny_run_writes_a_loadable_dialogpt_style_model(tmp_path):
    metrics = train_tiny.train(
        train_tiny.parse_args(
            [
                "--output-dir",
                str(tmp_path),
                "--max-steps",
                "3",
                "--n-embd",
                "32",
                "--n-layer",
                "1",
                "--n-head",
                "2",
                "--vocab-size",
                "400",
                "--n-positions",
                "256",
                "--replay",
                "16",
                "--augment",
                "1",
            ]
        )
    )
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    assert not [p.name for p in tmp_path.iterdir() if p.is_dir()]  # no Trainer output (checkpoints/) left beside it
    stored = json.loads((tmp_path / "metrics.json").read_text())
    assert stored == metrics
    assert set(stored["well_formed"]) == {"corpus", "project", "heldout"}
    for turns in stored["well_formed"].values():
        assert list(turns) == ["turn1", "turn2", "turn3"]
        assert all(0 <= t["well_formed"] <= t["replies"] and t["replies"] > 0 for t in turns.values())
    assert stored["well_formed"]["corpus"]["turn1"]["replies"] == 32  # distinct openers of the two files
    assert stored["well_formed"]["heldout"]["turn1"]["replies"] == 150
    assert stored["heldout_perplexity"] > 1
    gate = stored["reply_gate"]  # chosen on the held-out training dialogues, written only when it helps there
    assert gate["replies"] > 0 and gate["well_formed_gated"] >= gate["well_formed_ungated"]
    written = (tmp_path / "reply_gate.json").exists()
    assert written == (gate["min_mean_logprob"] is not None)
    assert DialogueModel(tmp_path, "cpu").gate == gate["min_mean_logprob"]
    card = json.loads((tmp_path / "model_card.json").read_text())
    assert card["offline_demo"] is True and card["parameters"] == stored["parameters"]
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert tokenizer.eos_token == "<|endoftext|>"
    assert tokenizer.decode(tokenizer.encode("how are you?")) == "how are you?"  # byte-level BPE round trip
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert model.config.model_type == "gpt2" and model.config.n_positions == 256
    assert isinstance(DialogueModel(tmp_path, "cpu").reply([], "hi"), str)
