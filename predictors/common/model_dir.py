"""Checks that a model directory can be loaded safely, before any weights are read."""

from __future__ import annotations

import json
import os
from pathlib import Path


class ModelDirError(RuntimeError):
    """The model directory is missing, incomplete or unsafe; the message is one line."""


SAFETENSORS = "*.safetensors"


def check_model_dir(path: str | Path, weights: str = SAFETENSORS) -> Path:
    """A usable dir has a readable config.json and weights matching `weights`: safetensors, or
    for the extractor on ONNX Runtime its graph (onnx_tagger.ONNX_FILE).

    Pickle checkpoints (pytorch_model.bin) can run code on load, so a dir with only those is refused.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise ModelDirError(f"model dir {directory} does not exist")
    config = directory / "config.json"
    try:
        json.loads(config.read_text())
    except FileNotFoundError:
        raise ModelDirError(f"model dir {directory} has no config.json") from None
    except (OSError, ValueError) as exc:
        raise ModelDirError(f"model dir {directory}: config.json is unreadable ({exc})") from None
    if not any(directory.glob(weights)):
        pickles = sorted(p.name for p in directory.glob("*.bin")) + sorted(p.name for p in directory.glob("*.pt*"))
        reason = f"only pickle weights ({', '.join(pickles)})" if pickles else "no weights"
        wanted = "safetensors are" if weights == SAFETENSORS else f"{weights} is"
        raise ModelDirError(f"model dir {directory} has {reason}; {wanted} required")
    unreadable = sorted(p.name for p in directory.iterdir() if p.is_file() and not os.access(p, os.R_OK))
    if unreadable:  # e.g. a 0600 file copied into an image that runs as another user
        raise ModelDirError(f"model dir {directory}: not readable by this user: {', '.join(unreadable)}")
    return directory
