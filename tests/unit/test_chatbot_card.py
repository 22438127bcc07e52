"""The model card the chat shows: from model_card.json, or from the loaded model and its hub id."""

from __future__ import annotations

import json
from types import SimpleNamespace

import torch

from predictors.chatbot.card import CARD_FILE, model_card


def fake_model() -> torch.nn.Module:
    model = torch.nn.Linear(10, 5)  # 55 parameters
    model.config = SimpleNamespace(model_type="gpt2")
    return model


def test_the_offline_model_brings_its_own_card(tmp_path):
    card = {"name": "tiny", "parameters": 1234, "offline_demo": True, "description": "demo"}
    (tmp_path / CARD_FILE).write_text(json.dumps(card))
    assert model_card(tmp_path, fake_model(), model_id="ignored/when-a-card-exists") == card


def test_a_hub_model_is_named_by_its_id_and_counted(tmp_path):
    card = model_card(tmp_path, fake_model(), model_id="microsoft/DialoGPT-medium")
    assert card["name"] == "microsoft/DialoGPT-medium"
    assert card["parameters"] == 55 and card["offline_demo"] is False


def test_without_an_id_the_dir_names_the_model(tmp_path):
    directory = tmp_path / "DialoGPT-small"
    directory.mkdir()
    assert model_card(directory, fake_model())["name"] == "DialoGPT-small"
