"""A real (tiny) chatbot training run: tokenizer, safetensors, metrics with the learned-reply probe."""

from __future__ import annotations

import json

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from predictors.chatbot import train_tiny
from predictors.chatbot.generation import DialogueModel

pytestmark = pytest.mark.slow


def test_tiny_run_writes_a_loadable_dialogpt_style_model(tmp_path):
    metrics = train_tiny.train(train_tiny.parse_args([
        "--output-dir", str(tmp_path), "--max-steps", "3", "--n-embd", "32", "--n-layer", "1", "--n-head", "2",
        "--vocab-size", "400", "--n-positions", "64", "--replay", "16",
    ]))
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    stored = json.loads((tmp_path / "metrics.json").read_text())
    assert stored == metrics
    assert stored["probe_turns"] == 32
    assert 0 <= stored["learned_replies"] <= 32 and stored["heldout_perplexity"] > 1
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert tokenizer.eos_token == "<|endoftext|>"
    assert tokenizer.decode(tokenizer.encode("how are you?")) == "how are you?"  # byte-level BPE round trip
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert model.config.model_type == "gpt2" and model.config.n_positions == 64
    assert isinstance(DialogueModel(tmp_path, "cpu").reply([], "hi"), str)
