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
from predictors.extractor.schema import CourseSpan
from predictors.extractor.spans import to_spans

STRIDE = 64  # tokens of overlap when a long text is split into model-sized windows
THRESHOLD_KEY = "span_score_threshold"  # config.json: chosen on the dev set at training time
OFFSET_KEY = "outside_logit_offset"  # config.json: subtracted from the "O" logit (dev set too)


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
        """Group words into spans after bridging one-word holes inside a name.

        A word-level tagger now and then drops one word in the middle of a title ("Calculus for
        the [Life] Sciences"). A lone O between a course word and an I- word (which says "this
        continues a name") is read as I-, so the title comes back whole, not as two fragments.
        """
        for i in range(1, len(entities) - 1):
            if (
                entities[i]["entity"] == "O"
                and entities[i - 1]["entity"] != "O"
                and entities[i + 1]["entity"].startswith("I-")
            ):
                entities[i] = {**entities[i], "entity": entities[i + 1]["entity"]}
        return super().group_entities(entities)


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
