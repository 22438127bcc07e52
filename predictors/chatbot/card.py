"""What the chat says about the model that answers: its name, size and whether it is the demo.

The offline model carries `model_card.json`, written by train_tiny. Any other model dir (say
DialoGPT-medium from `hf://microsoft/DialoGPT-medium`) gets a card from the loaded model: the
hub id when the operator passes `--model_id` (the chart does), else the dir's name.
"""

from __future__ import annotations

import json
from pathlib import Path

CARD_FILE = "model_card.json"


def model_card(model_dir: str | Path, model, model_id: str | None = None) -> dict:
    """{"name", "parameters", "offline_demo", "description"} for the UI and the model endpoint."""
    stored = Path(model_dir) / CARD_FILE
    if stored.is_file():
        card = json.loads(stored.read_text(encoding="utf-8"))
        return {**card, "parameters": int(card.get("parameters") or parameter_count(model))}
    name = model_id or Path(model_dir).resolve().name
    return {
        "name": name,
        "parameters": parameter_count(model),
        "offline_demo": False,
        "description": f"{model.config.model_type} model served from {Path(model_dir).name}",
    }


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())
