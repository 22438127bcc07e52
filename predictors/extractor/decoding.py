"""What both runtimes (inference.py on torch, onnx_tagger.py on ONNX Runtime) decode alike, with
no framework import: the window stride, the config keys of the decoding chosen at training time,
and the one-word bridge."""

from __future__ import annotations

STRIDE = 64  # tokens of overlap when a long text is split into model-sized windows
THRESHOLD_KEY = "span_score_threshold"  # config.json: chosen on the dev set at training time
OFFSET_KEY = "outside_logit_offset"  # config.json: subtracted from the "O" logit (dev set too)


def bridge(labels: list[str]) -> list[str]:
    """Word labels with one-word holes inside a name filled.

    A word-level tagger now and then drops one word in the middle of a title ("Calculus for
    the [Life] Sciences"). A lone O between a course word and an I- word (which says "this
    continues a name") is read as that I-, so the title comes back whole, not as two fragments.
    """
    labels = list(labels)
    for i in range(1, len(labels) - 1):
        if labels[i] == "O" and labels[i - 1] != "O" and labels[i + 1].startswith("I-"):
            labels[i] = labels[i + 1]
    return labels
