"""The extractor's forward path, shared by the server, training's evaluation and the benchmark.

A transformers token-classification pipeline (span aggregation, long texts in strided windows)
with three additions the trained model's config asks for: the capitalization ids of
`casing.py`, an offset taken off the "O" logit, and a score threshold below which a span is
not returned. The offset and the threshold are chosen together on the dev set at training time:
the offset lets a name the base model reads as something else ("tor" + "##ts") come through
on its context, the threshold keeps what comes through precise.
"""

from __future__ import annotations

import torch
from transformers import TokenClassificationPipeline, pipeline

from predictors.extractor import casing
from predictors.extractor.decoding import OFFSET_KEY, STRIDE, THRESHOLD_KEY, bridge
from predictors.extractor.schema import CourseSpan
from predictors.extractor.spans import to_spans

__all__ = ["OFFSET_KEY", "STRIDE", "THRESHOLD_KEY", "CourseTaggingPipeline", "build_pipeline", "extract"]


class CourseTaggingPipeline(TokenClassificationPipeline):
    """Adds the capitalization ids to every window when the model was trained with them."""

    def preprocess(self, sentence, offset_mapping=None, **preprocess_params):
        with_case = casing.enabled(self.model.config)
        for model_inputs in super().preprocess(sentence, offset_mapping=offset_mapping, **preprocess_params):
            if with_case:
                offsets = model_inputs["offset_mapping"][0].tolist()
                ids = casing.case_type_ids(sentence, offsets)
                model_inputs["token_type_ids"] = torch.tensor([ids], dtype=torch.long)
            yield model_inputs

    def _forward(self, model_inputs):
        outputs = super()._forward(model_inputs)
        offset = float(getattr(self.model.config, OFFSET_KEY, 0.0) or 0.0)
        if offset:
            outputs["logits"][..., self.model.config.label2id["O"]] -= offset
        return outputs

    def group_entities(self, entities: list[dict]) -> list[dict]:
        """Group words into spans after bridging one-word holes inside a name (decoding.bridge)."""
        labels = bridge([e["entity"] for e in entities])
        return super().group_entities([{**e, "entity": label} for e, label in zip(entities, labels, strict=True)])


def build_pipeline(model, tokenizer, device=None) -> CourseTaggingPipeline:
    return pipeline(
        "token-classification",
        model=model,
        tokenizer=tokenizer,
        device=device,
        aggregation_strategy="first",  # a word takes its first sub-token's label, as trained
        stride=STRIDE,
        pipeline_class=CourseTaggingPipeline,
    )


def extract(
    tagger: TokenClassificationPipeline, texts: list[str], threshold: float | None = None
) -> list[list[CourseSpan]]:
    """Course spans of each text, all texts in one forward batch (long texts add windows)."""
    if threshold is None:
        threshold = float(getattr(tagger.model.config, THRESHOLD_KEY, 0.0) or 0.0)
    if not texts:
        return []
    with torch.inference_mode():
        entities = tagger(texts, batch_size=len(texts))
    return [
        [s for s in to_spans(text, found) if s.score >= threshold] for text, found in zip(texts, entities, strict=True)
    ]
