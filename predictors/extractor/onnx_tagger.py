"""The extractor on ONNX Runtime, with no torch: tokenizers, numpy and onnxruntime only.

It returns what the torch path (inference.py: transformers' token-classification pipeline with
"first" aggregation, a stride of 64 tokens, the capitalization ids, the "O" offset, the one-word
bridge and the score threshold) returns, step for step, so a model answers the same with either
runtime; tests/training/test_onnx_runtime.py compares their spans. The pipeline itself cannot
run here: it needs torch tensors. The graph is the int8 export of training/extractor/export_onnx.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from predictors.extractor import casing
from predictors.extractor.decoding import OFFSET_KEY, STRIDE, THRESHOLD_KEY, bridge
from predictors.extractor.schema import CourseSpan
from predictors.extractor.spans import to_spans

ONNX_FILE = "model.int8.onnx"


def has_export(model_dir: str | Path) -> bool:
    return (Path(model_dir) / ONNX_FILE).is_file()


def providers_for(device: str) -> list[str]:
    """ONNX Runtime's execution providers for a --device choice: CUDA when asked (or, for
    auto, when the installed onnxruntime has it), the CPU always as the fallback."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in available:
            raise RuntimeError("--device cuda: this onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu)")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "auto" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def cpu_budget() -> int:
    """The CPUs this process should keep busy: OMP_NUM_THREADS where it is set (the chart sets
    it from the container's CPU limit, which torch honours too), else the cores it may run on.
    In a pod the affinity is the node's cores, not the limit."""
    budget = os.environ.get("OMP_NUM_THREADS", "")
    return int(budget) if budget.isdigit() and int(budget) > 0 else len(os.sched_getaffinity(0))


@dataclass
class _Word:
    label: str
    score: float
    start: int
    end: int


class OnnxTagger:
    """Course spans of texts from an exported extractor dir (config.json, tokenizer.json, the graph)."""

    def __init__(self, model_dir: str | Path, model_file: str | Path | None = None, device: str = "cpu") -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        config = json.loads((model_dir / "config.json").read_text())
        self.id2label = {int(i): label for i, label in config["id2label"].items()}
        self.outside = {label: i for i, label in self.id2label.items()}["O"]
        self.offset = float(config.get(OFFSET_KEY) or 0.0)
        self.threshold = float(config.get(THRESHOLD_KEY) or 0.0)
        self.case_feature = casing.enabled(SimpleNamespace(**config))  # config.json read as the torch side reads it

        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        settings = json.loads((model_dir / "tokenizer_config.json").read_text())
        max_length = min(int(settings.get("model_max_length", 512)), int(config.get("max_position_embeddings", 512)))
        # What the pipeline asks of a fast tokenizer: truncation at the model's length with the
        # rest in overflowing windows that overlap by STRIDE tokens; no padding (done per batch).
        self.tokenizer.enable_truncation(max_length, stride=STRIDE)
        self.tokenizer.no_padding()
        self.unk_id = self.tokenizer.token_to_id(settings.get("unk_token", "[UNK]"))
        # A word-aware tokenizer (WordPiece's "##") tells a sub-token by its length; others by spacing.
        self.word_aware = bool(getattr(self.tokenizer.model, "continuing_subword_prefix", None))

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = providers_for(device)
        # One text per forward (see __call__): on the CPU, texts run side by side, one core each;
        # a lone text's matrices are too small to share among cores (measured here: 2 texts at
        # a time on one thread each did a batch of 32 in 0.35 s, one at a time on 2 threads 0.45).
        workers = 1
        if providers[0] != "CUDAExecutionProvider":
            workers = cpu_budget()
            options.intra_op_num_threads = 1  # ORT's default is every core of the machine, not the limit
        path = Path(model_file) if model_file else model_dir / ONNX_FILE
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="onnx") if workers > 1 else None
        self.input_names = {i.name for i in self.session.get_inputs()}

    def forward(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Logits (batch, sequence, labels) of int64 input arrays."""
        feeds = {name: array for name, array in feeds.items() if name in self.input_names}
        return self.session.run(["logits"], feeds)[0]

    def __call__(self, texts: Sequence[str], threshold: float | None = None) -> list[list[CourseSpan]]:
        """Course spans of each text: one forward per text, over all of that text's windows.

        Not one forward for the batch: the int8 graph scales its activations by the range of
        the tensor it is given, so in a shared forward a text's spans would depend on the texts
        beside it (under load "Public Speaking" came back as "Public Speaking with friends").
        Per text, an answer is the same alone or under load; it costs little, as a text's
        forward then has no padding to compute (bench: `make bench`, the onnx mode)."""
        if threshold is None:
            threshold = self.threshold
        if not texts:
            return []
        encodings = self.tokenizer.encode_batch(list(texts))
        if self.pool is None or len(texts) == 1:
            return [self._spans(t, e, threshold) for t, e in zip(texts, encodings, strict=True)]
        return list(self.pool.map(self._spans, texts, encodings, [threshold] * len(texts)))

    def _spans(self, text: str, encoding, threshold: float) -> list[CourseSpan]:
        """One text's spans, from one forward over all of its windows."""
        windows = [encoding, *encoding.overflowing]
        probabilities = self._probabilities(text, windows)
        found = [
            group
            for window, row in zip(windows, probabilities, strict=True)
            for group in _group(_bridge(self._words(text, window, row)))
            if group["entity_group"] != "O"
        ]
        spans = to_spans(text, _resolve_overlaps(found) if encoding.overflowing else found)
        return [s for s in spans if s.score >= threshold]

    def probabilities(self, text: str) -> np.ndarray:
        """Label probabilities (windows, sequence, labels) of one text's tokens, as its spans read them."""
        encoding = self.tokenizer.encode(text)
        return self._probabilities(text, [encoding, *encoding.overflowing])

    def _probabilities(self, text: str, windows: list) -> np.ndarray:
        """Label probabilities (windows, sequence, labels) of one text's windows, the "O" offset applied."""
        width = max(len(w.ids) for w in windows)
        shape = (len(windows), width)
        ids, mask, types = np.zeros(shape, np.int64), np.zeros(shape, np.int64), np.zeros(shape, np.int64)
        for row, window in enumerate(windows):
            n = len(window.ids)
            ids[row, :n] = window.ids
            mask[row, :n] = window.attention_mask
            types[row, :n] = casing.case_type_ids(text, window.offsets) if self.case_feature else window.type_ids
        logits = self.forward({"input_ids": ids, "attention_mask": mask, "token_type_ids": types}).astype(np.float32)
        logits[..., self.outside] -= self.offset
        exp = np.exp(logits - logits.max(-1, keepdims=True))
        return exp / exp.sum(-1, keepdims=True)

    def _words(self, text: str, window, probabilities: np.ndarray) -> list[_Word]:
        """Each word's label and score from its first sub-token ("first" aggregation)."""
        words: list[_Word] = []
        for i, (token_id, token, special, (start, end)) in enumerate(
            zip(window.ids, window.tokens, window.special_tokens_mask, window.offsets, strict=True)
        ):
            if special:
                continue
            if token_id == self.unk_id:
                subword = False
            elif self.word_aware:
                subword = len(token) != end - start
            else:
                subword = start > 0 and " " not in text[start - 1 : start + 1]
            if words and subword:
                words[-1].end = end
                continue
            best = int(probabilities[i].argmax())
            words.append(_Word(self.id2label[best], float(probabilities[i][best]), start, end))
        return words


def _bridge(words: list[_Word]) -> list[_Word]:
    for word, label in zip(words, bridge([w.label for w in words]), strict=True):
        word.label = label
    return words


def _tag(label: str) -> tuple[str, str]:
    if label.startswith(("B-", "I-")):
        return label[0], label[2:]
    return "I", label  # "O" continues a run of O


def _group(words: list[_Word]) -> list[dict]:
    """Runs of words of one type, a B- starting a new one; a run's score is its words' mean."""
    groups: list[list[_Word]] = []
    for word in words:
        bi, tag = _tag(word.label)
        if groups and bi != "B" and _tag(groups[-1][-1].label)[1] == tag:
            groups[-1].append(word)
        else:
            groups.append([word])
    return [
        {
            "entity_group": _tag(run[0].label)[1],
            "score": float(np.mean([w.score for w in run])),
            "start": run[0].start,
            "end": run[-1].end,
        }
        for run in groups
    ]


def _resolve_overlaps(entities: list[dict]) -> list[dict]:
    """Of spans found twice in overlapping windows keep the longer (the higher score on a tie)."""
    if not entities:
        return entities
    ordered = sorted(entities, key=lambda e: e["start"])
    kept, previous = [], ordered[0]
    for entity in ordered:
        if previous["start"] <= entity["start"] < previous["end"]:
            longer = entity["end"] - entity["start"] - (previous["end"] - previous["start"])
            if longer > 0 or (longer == 0 and entity["score"] > previous["score"]):
                previous = entity
        else:
            kept.append(previous)
            previous = entity
    kept.append(previous)
    return kept
