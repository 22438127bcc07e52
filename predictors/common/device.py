"""Pick the torch device and dtype from --device."""

from __future__ import annotations

import torch


def resolve_device(choice: str) -> tuple[torch.device, torch.dtype]:
    """auto → CUDA with fp16 when a GPU is visible, else CPU with fp32."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was requested but no CUDA device is visible")
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        return torch.device("cuda"), torch.float16
    return torch.device("cpu"), torch.float32
