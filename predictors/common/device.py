"""Pick the torch device and dtype from --device."""

from __future__ import annotations

import torch


def resolve_device(choice: str) -> tuple[torch.device, torch.dtype]:
    """auto → CUDA with fp16 when a GPU is visible, else CPU with fp32; cuda → CUDA or exit."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit(_no_cuda_reason())
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        return torch.device("cuda"), torch.float16
    return torch.device("cpu"), torch.float32


def _no_cuda_reason() -> str:
    # A CPU-only torch (the default image) is a wrong image, not a missing GPU: say which.
    if torch.version.cuda is None:
        return (
            f"--device cuda was requested but torch {torch.__version__} is a CPU-only build: "
            "use a -cuda image (scripts/build-images.sh --cuda)"
        )
    return (
        f"--device cuda was requested but no CUDA device is visible "
        f"(torch {torch.__version__}, CUDA {torch.version.cuda}): is a GPU assigned to this container?"
    )
