"""The extractor on ONNX Runtime (onnx_tagger.py) against the torch pipeline (inference.py), on the
built model: the decoder is the pipeline's step for step (an fp32 export gives the very same
spans, long texts' windows included), and the int8 export `make models` writes keeps the F1 of
every evaluation set within 0.01. The serving path of the ONNX runtime imports no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoModelForTokenClassification, AutoTokenizer

from predictors.extractor.inference import build_pipeline, extract
from predictors.extractor.model import choose_backend
from predictors.extractor.onnx_tagger import ONNX_FILE, OnnxTagger, cpu_budget
from tests.conftest import ROOT
from training.extractor.evaluation import above, predict_spans, score
from training.extractor.export_onnx import evaluation_splits, export_fp32


@pytest.fixture(scope="module")
def splits() -> dict:
    return evaluation_splits()  # the sets the export's choice of float MatMuls is held to


@pytest.fixture(scope="module")
def torch_spans(extractor_dir: Path, splits: dict) -> dict:
    tagger = build_pipeline(
        AutoModelForTokenClassification.from_pretrained(extractor_dir), AutoTokenizer.from_pretrained(extractor_dir)
    )
    return {
        name: above(predict_spans(lambda texts: extract(tagger, texts), [e.text for e in examples]))
        for name, examples in splits.items()
    }


def long_text(splits: dict) -> str:
    """Sentences run together past the model's 512 tokens, twice over: overlapping windows."""
    return " ".join(e.text for e in splits["realistic"] + splits["realtext_dev"][:40])


def test_the_int8_export_is_in_the_model_dir_and_served_by_default(extractor_dir: Path, monkeypatch):
    assert (extractor_dir / ONNX_FILE).is_file(), "make models exports it"
    assert choose_backend("onnx", str(extractor_dir)) == "onnx"
    assert choose_backend("auto", str(extractor_dir)) == "onnx"
    assert choose_backend("torch", str(extractor_dir)) == "torch"
    # A GPU asked for, and an onnxruntime without CUDA: torch runs there, not ONNX on the CPU.
    monkeypatch.setattr("predictors.extractor.model.onnx_providers", lambda: ["CPUExecutionProvider"])
    assert choose_backend("auto", str(extractor_dir), device="cuda") == "torch"
    monkeypatch.setattr("predictors.extractor.model.onnx_providers", lambda: ["CUDAExecutionProvider"])
    assert choose_backend("auto", str(extractor_dir), device="cuda") == "onnx"


def test_the_tagger_runs_as_many_texts_at_once_as_the_cpu_limit_allows(extractor_dir, monkeypatch):
    """In a pod the chart sets OMP_NUM_THREADS from limits.cpu; the node's cores are more."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert OnnxTagger(extractor_dir).pool is None  # one text at a time, on one core
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert OnnxTagger(extractor_dir).pool._max_workers == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert cpu_budget() == len(os.sched_getaffinity(0))


def test_int8_spans_of_a_text_do_not_depend_on_its_batch(extractor_dir, splits):
    """The int8 graph scales activations by the range of its input: the tagger runs one text per
    forward so that a text answers the same alone and beside any others."""
    tagger = OnnxTagger(extractor_dir)
    texts = [e.text for e in splits["realtext_dev"][:48]] + [long_text(splits)]
    alone = [tagger([text])[0] for text in texts]
    assert tagger(texts) == alone
    assert tagger(list(reversed(texts))) == list(reversed(alone))


def test_an_fp32_export_gives_the_torch_pipelines_spans_exactly(extractor_dir, splits, torch_spans, tmp_path):
    model = AutoModelForTokenClassification.from_pretrained(extractor_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(extractor_dir)
    export_fp32(model, tokenizer, tmp_path / "fp32.onnx")
    tagger = OnnxTagger(extractor_dir, model_file=tmp_path / "fp32.onnx")
    for name in ("realistic", "realtext_dev"):
        assert above(predict_spans(tagger, [e.text for e in splits[name]])) == torch_spans[name], name

    text = long_text(splits)
    assert len(tokenizer(text)["input_ids"]) > 1024  # three windows or more
    pipeline = build_pipeline(model, tokenizer)
    expected = [(s.start, s.end) for s in extract(pipeline, [text])[0]]
    assert len(expected) > 40
    assert [(s.start, s.end) for s in tagger([text])[0]] == expected


def test_int8_spans_equal_torchs_on_the_realistic_set(extractor_dir, splits, torch_spans):
    tagger = OnnxTagger(extractor_dir)
    found = above(predict_spans(tagger, [e.text for e in splits["realistic"]]))
    differing = [e.text for e, a, b in zip(splits["realistic"], found, torch_spans["realistic"], strict=True) if a != b]
    assert len(differing) <= 1, differing  # 50 sentences: at most one answered otherwise


def test_int8_f1_is_within_0_01_of_torch_on_every_evaluation_set(extractor_dir, splits, torch_spans):
    tagger = OnnxTagger(extractor_dir)
    for name, examples in splits.items():
        onnx_f1 = score(examples, above(predict_spans(tagger, [e.text for e in examples])))["overall"]["f1"]
        torch_f1 = score(examples, torch_spans[name])["overall"]["f1"]
        assert abs(onnx_f1 - torch_f1) <= 0.01, (name, onnx_f1, torch_f1)


def test_the_graph_is_int8_but_for_the_matmuls_the_export_reports_float(extractor_dir):
    """metrics.json names the MatMuls the export kept float (the head and the most sensitive);
    every other weight MatMul of the graph is int8."""
    import onnx

    report = json.loads((extractor_dir / "metrics.json").read_text())["onnx_runtime"]
    nodes = onnx.load(str(extractor_dir / ONNX_FILE)).graph.node
    kept = {n.name for n in nodes if n.op_type == "MatMul"}
    assert "/classifier/MatMul" in report["float"]
    assert set(report["float"]) <= kept
    assert sum(n.op_type == "MatMulInteger" for n in nodes) == report["int8_of"] - len(report["float"])


def test_the_onnx_runtime_serves_without_torch(extractor_dir):
    """torch and transformers made unimportable: the predictor still loads and extracts."""
    script = f"""
import sys
sys.modules["torch"] = None
sys.modules["transformers"] = None
from predictors.extractor.model import CourseExtractor
model = CourseExtractor("extractor", {str(extractor_dir)!r}, backend="onnx")
model.load()
assert model.backend == "onnx", model.backend
print([s.text for s in model.extract(["I'm taking Linear Algebra and CS 61A this fall."])[0]])
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['Linear Algebra', 'CS 61A']"


def test_runtime_onnx_without_an_export_is_a_clear_error(extractor_dir, tmp_path):
    from predictors.common.model_dir import ModelDirError

    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"):
        (tmp_path / name).symlink_to(extractor_dir / name)
    assert choose_backend("auto", str(tmp_path)) == "torch"
    with pytest.raises(ModelDirError, match=ONNX_FILE):
        choose_backend("onnx", str(tmp_path))
