"""What a model dir may run: only safetensors (torch) or the ONNX graph are read, planted pickles
and remote code never run, and a corrupt dir fails fast with a one-line reason. The torch runtime
is asked for by name where the safetensors are the point."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, run_extractor_to_exit, start_predictor


class Planted:
    """Unpickling this creates `marker`: proof that the pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture
def model_copy(extractor_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(extractor_dir, target)
    return target


def serve_once(model_dir: Path) -> tuple[int | None, str]:
    """Start the extractor on torch on `model_dir`: (status of one request or None, stderr if it exited)."""
    predictor = start_predictor("predictors.extractor", "extractor", model_dir, "--runtime", "torch")
    try:
        predictor.wait_ready(timeout=120)
        response = httpx.post(
            f"{predictor.url}/v1/models/extractor:predict",
            json={"instances": ["I loved Organic Chemistry"]},
            timeout=30,
        )
        return response.status_code, ""
    except RuntimeError as exc:  # exited
        return None, str(exc)
    finally:
        predictor.stop()


def test_a_planted_pickle_beside_safetensors_is_never_loaded(model_copy: Path, tmp_path: Path):
    marker = tmp_path / "pickle-ran"
    for name in ("pytorch_model.bin", "training_args.bin"):
        (model_copy / name).write_bytes(pickle.dumps(Planted(marker)))
    status, _ = serve_once(model_copy)
    assert status == 200
    assert not marker.exists(), "a pickle in the model dir was unpickled"


def test_remote_code_named_by_the_config_never_runs(model_copy: Path, tmp_path: Path):
    marker = tmp_path / "remote-code-ran"
    (model_copy / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "from transformers import BertConfig as EvilConfig\n"
        "from transformers import BertForTokenClassification as EvilModel\n"
    )
    config = json.loads((model_copy / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForTokenClassification": "evil.EvilModel"}
    (model_copy / "config.json").write_text(json.dumps(config))
    status, reason = serve_once(model_copy)
    assert not marker.exists(), "code from the model dir ran"
    assert status == 200 or reason  # served with the built-in class, or refused; never ran it


def test_corrupt_safetensors_exit_nonzero_with_a_one_line_reason(model_copy: Path):
    (model_copy / "model.safetensors").write_bytes(b"\x00" * 64)
    result = run_extractor_to_exit(model_copy, "--runtime", "torch", timeout=120)
    assert_one_line_failure(result, "deserializing header")  # safetensors' own words for a broken file


def assert_one_line_failure(result, reason: str) -> None:
    assert result.returncode != 0
    failure = [line for line in result.stderr.splitlines() if "model load failed" in line]
    assert len(failure) == 1, result.stderr[-1500:]
    assert reason in failure[0]


def test_a_corrupt_onnx_export_exits_nonzero_with_a_one_line_reason(model_copy: Path):
    (model_copy / "model.int8.onnx").write_bytes(b"\x00" * 64)
    result = run_extractor_to_exit(model_copy, "--runtime", "onnx", timeout=120)
    assert_one_line_failure(result, "model.int8.onnx")


def test_the_code_never_asks_for_remote_code():
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "predictors").rglob("*.py")
        if "trust_remote_code=True" in p.read_text()
    ]
    assert offenders == []
