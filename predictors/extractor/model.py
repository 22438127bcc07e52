"""Course-name extractor as a KServe custom predictor.

V1  POST /v1/models/extractor:predict
    {"instances": [{"text": "I am taking Linear Algebra."}]}        (or bare strings)
 →  {"predictions": [{"courses": [{"text": "Linear Algebra", "start": 12, "end": 26, "score": 0.99}]}]}
V2  POST /v2/models/extractor/infer  with a BYTES input "text"; output "courses" holds one JSON
    document (the list of spans) per text.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from kserve import Model
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from predictors.common.model_dir import SAFETENSORS, ModelDirError, check_model_dir
from predictors.common.payload import parse_instances, v2_strings, validate
from predictors.common.runtime import BATCHED, Runtime, RuntimeOptions
from predictors.extractor.onnx_tagger import ONNX_FILE, has_export
from predictors.extractor.schema import DEFAULT_MAX_TEXT_CHARS, CourseSpan, ExtractInstance

BACKENDS = ("auto", "onnx", "torch")


def choose_backend(choice: str, model_dir: str, device: str = "auto") -> str:
    """onnx or torch. auto is onnx where the model dir has the int8 export and ONNX Runtime can
    run on the device asked for (a CUDA device needs onnxruntime-gpu), torch otherwise."""
    if choice == "onnx" and not has_export(model_dir):
        raise ModelDirError(
            f"--runtime onnx: model dir {model_dir} has no {ONNX_FILE} "
            "(python -m training.extractor.export_onnx --model-dir DIR writes it)"
        )
    if choice != "auto":
        return choice
    if not has_export(model_dir):
        return "torch"
    if device.startswith("cuda"):
        return "onnx" if "CUDAExecutionProvider" in onnx_providers() else "torch"
    return "onnx"


def onnx_providers() -> list[str]:
    try:
        import onnxruntime
    except ImportError:  # a torch-only install: no ONNX runtime to choose
        return []
    return onnxruntime.get_available_providers()


@dataclass
class Batch:
    """What flows from preprocess to postprocess; V2 needs the request id back."""

    texts: list[str]
    v2_request_id: str | None = None
    courses: list[list[CourseSpan]] = field(default_factory=list)


class CourseExtractor(Model):
    def __init__(
        self,
        name: str,
        model_dir: str,
        device: str = "auto",
        max_batch_size: int = 64,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
        runtime: RuntimeOptions = BATCHED,
        backend: str = "auto",
    ):
        super().__init__(name)
        self.model_dir = model_dir
        self.device_choice = device
        self.backend = backend  # auto | onnx | torch; load() settles it
        self.max_batch_size = max_batch_size
        self.max_text_chars = max_text_chars
        # Concurrent requests share one forward batch on the inference thread, behind admission.
        self.runtime = Runtime(name, self.extract, runtime)
        self._extract = None  # texts -> spans, on the chosen backend

    @property
    def weights(self) -> str:
        """The weights the chosen runtime reads: the server checks the dir for them before it
        starts, and the ONNX image holds no safetensors."""
        return ONNX_FILE if choose_backend(self.backend, self.model_dir, self.device_choice) == "onnx" else SAFETENSORS

    def load(self) -> bool:
        self.backend = choose_backend(self.backend, self.model_dir, self.device_choice)  # settled: onnx or torch
        directory = check_model_dir(self.model_dir, self.weights)
        if self.backend == "onnx":  # no torch import on this path: the ONNX image has none
            from predictors.extractor.onnx_tagger import OnnxTagger

            self._extract = OnnxTagger(directory, device=self.device_choice)
        else:
            self._extract = self._torch_pipeline(directory)
        self.ready = True  # readiness (GET /v1/models/<name>) answers 200 from here on
        return self.ready

    def _torch_pipeline(self, directory):
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        from predictors.common.device import resolve_device
        from predictors.extractor.inference import build_pipeline, extract

        device, dtype = resolve_device(self.device_choice)
        tokenizer = AutoTokenizer.from_pretrained(directory)
        model = AutoModelForTokenClassification.from_pretrained(directory, dtype=dtype, use_safetensors=True)
        pipeline = build_pipeline(model, tokenizer, device)
        return lambda texts: extract(pipeline, texts)

    def extract(self, texts: list[str]) -> list[list[CourseSpan]]:
        """Spans of all texts: torch runs them in one forward batch (long texts add windows to
        it), ONNX Runtime one forward per text (onnx_tagger.py)."""
        return self._extract(texts)

    def validate_text(self, data: Any, where: str = "") -> str:
        context = {"max_text_chars": self.max_text_chars}
        return validate(ExtractInstance, data, where, context).text

    async def preprocess(self, payload: dict | bytes | InferRequest, headers: dict | None = None) -> Batch:
        if isinstance(payload, InferRequest):
            return Batch(self._v2_texts(payload), v2_request_id=payload.id or str(uuid.uuid4()))
        instances = parse_instances(
            payload, ExtractInstance, self.max_batch_size, {"max_text_chars": self.max_text_chars}
        )
        return Batch([i.text for i in instances])

    def _v2_texts(self, request: InferRequest) -> list[str]:
        texts = v2_strings(request, "text", self.max_batch_size)
        return [self.validate_text(t, f"text[{i}]") for i, t in enumerate(texts)]

    async def predict(self, batch: Batch, headers: dict | None = None) -> Batch:
        return replace(batch, courses=await self.runtime.infer(batch.texts))

    async def postprocess(
        self, batch: Batch, headers: dict | None = None, response_headers: dict | None = None
    ) -> dict | InferResponse:
        if batch.v2_request_id is not None:
            return self._v2_response(batch)
        return {"predictions": [{"courses": [s.model_dump() for s in spans]} for spans in batch.courses]}

    def _v2_response(self, batch: Batch) -> InferResponse:
        documents = [json.dumps([s.model_dump() for s in spans]) for spans in batch.courses]
        output = InferOutput(name="courses", shape=[len(documents)], datatype="BYTES", data=documents)
        return InferResponse(response_id=batch.v2_request_id, model_name=self.name, infer_outputs=[output])
