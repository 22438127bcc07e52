import os
from pathlib import Path

import pytest

from predictors.common.model_dir import ModelDirError, check_model_dir
from predictors.extractor.onnx_tagger import ONNX_FILE


def test_safetensors_dir_is_accepted(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert check_model_dir(tmp_path) == tmp_path


def test_the_onnx_runtime_asks_for_its_graph_and_not_for_safetensors(tmp_path):
    """The ONNX image holds no safetensors; the torch runtime still needs them."""
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / ONNX_FILE).write_bytes(b"")
    assert check_model_dir(tmp_path, ONNX_FILE) == tmp_path
    with pytest.raises(ModelDirError, match="safetensors are required"):
        check_model_dir(tmp_path)
    (tmp_path / ONNX_FILE).unlink()
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelDirError, match=f"{ONNX_FILE} is required"):
        check_model_dir(tmp_path, ONNX_FILE)


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({}, "no config.json"),
        ({"config.json": "{"}, "unreadable"),
        ({"config.json": "{}"}, "no weights"),
        ({"config.json": "{}", "pytorch_model.bin": "x"}, "only pickle weights (pytorch_model.bin)"),
    ],
)
def test_unusable_dirs_are_refused(tmp_path, files, reason):
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    with pytest.raises(ModelDirError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_model_dir(tmp_path)


def test_missing_dir(tmp_path):
    with pytest.raises(ModelDirError, match="does not exist"):
        check_model_dir(tmp_path / "nope")


def test_weights_this_user_cannot_read_are_named(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text("{}")
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"")
    weights.chmod(0o600)
    # The tests may run as root, which reads anything: ask as a user who owns nothing here would.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != weights and real_access(p, mode))
    with pytest.raises(ModelDirError, match="not readable by this user: model.safetensors"):
        check_model_dir(tmp_path)
