"""--device cuda never falls back to CPU: without CUDA the predictor stops before it is ready, and
says whether the image's torch is a CPU-only build or the container has no GPU."""

from __future__ import annotations

import pytest
import torch

from predictors.common.device import resolve_device
from tests.conftest import run_extractor_to_exit


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_cuda_on_a_cpu_only_torch_names_the_image(no_gpu, monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(SystemExit, match=r"CPU-only build: use a -cuda image \(scripts/build-images.sh --cuda\)"):
        resolve_device("cuda")


def test_cuda_without_a_visible_gpu_says_so(no_gpu, monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    with pytest.raises(SystemExit, match="no CUDA device is visible .*CUDA 13.0"):
        resolve_device("cuda")


@pytest.mark.parametrize("choice", ["auto", "cpu"])
def test_auto_and_cpu_run_on_cpu_without_a_gpu(no_gpu, choice):
    assert resolve_device(choice) == (torch.device("cpu"), torch.float32)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible here")
def test_predictor_with_device_cuda_exits_before_ready(tmp_path):
    """The whole process: no weights are read, no `ready:` line, exit status 1 and the reason."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    (model_dir / "model.safetensors").write_bytes(b"")  # never opened: the device is checked first
    result = run_extractor_to_exit(model_dir, "--device", "cuda", timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ready:" not in result.stdout
    assert "--device cuda was requested but" in result.stderr, result.stderr
