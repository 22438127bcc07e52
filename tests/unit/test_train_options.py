"""Training options that depend on the machine: bf16 only where the CPU computes it natively."""

from __future__ import annotations

import pytest
import torch

from training.extractor.train import parse_args, use_bf16


@pytest.mark.parametrize("native", [True, False])
def test_auto_bf16_follows_the_cpu(monkeypatch, native):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: native)
    assert use_bf16("auto") is native
    assert use_bf16("on") is True and use_bf16("off") is False  # an explicit choice wins


def test_bf16_defaults_to_auto():
    assert parse_args([]).bf16 == "auto"
