"""Streamed replies: one batched generate() whose tokens go to each sequence's own sink.

transformers hands a streamer the new token of every row at each decoding step; `_Rows` splits
that per sequence, decodes each reply so far, and passes on only the text that is final (not a
half-decoded UTF-8 character, not the start of a stop string). As a stopping criterion it ends
a row at the next step once its client is gone or a stop string appeared, so a cancelled
sequence costs nothing more than the padding of a batch that is still running.

Streamed text is the model's own: the n-gram ban and the token limit apply, but not the guards
that need the whole reply first (the degenerate retry, the reply gate, the cut at the last
sentence of generation.py) — what is sent cannot be taken back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from predictors.chatbot.generation import DialogueModel, Settings


@dataclass
class StreamSink:
    """Where one sequence's text goes; called on the inference thread."""

    emit: Callable[[str], None]  # a piece of text, in order
    cancelled: Callable[[], bool] = lambda: False  # the client is gone or pressed stop
    stop: Sequence[str] = ()  # stop strings: the reply ends before the first one


@dataclass
class StreamResult:
    text: str
    finish_reason: str  # "stop" (EOS or a stop string), "length" (the token limit) or "cancelled"
    prompt_tokens: int
    completion_tokens: int


@dataclass
class _Row:
    sink: StreamSink
    tokens: list[int] = field(default_factory=list)
    text: str = ""  # the reply so far, stop strings cut
    sent: int = 0  # how much of `text` the sink has
    finish: str | None = None


class _Rows(BaseStreamer, StoppingCriteria):
    def __init__(self, dialogue: DialogueModel, sinks: Sequence[StreamSink], max_new_tokens: int) -> None:
        self.tokenizer, self.eos = dialogue.tokenizer, dialogue.eos
        self.rows = [_Row(sink) for sink in sinks]
        self.max_new_tokens = max_new_tokens
        self.prompt_seen = False

    # StoppingCriteria: one flag per row, checked before the step's tokens reach put().
    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        for row in self.rows:
            if row.finish is None and row.sink.cancelled():
                row.finish = "cancelled"
        return torch.tensor([row.finish is not None for row in self.rows], device=input_ids.device)

    # BaseStreamer: the prompt first, then one token per row and step.
    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        for row, token in zip(self.rows, value.view(-1).tolist(), strict=True):
            if row.finish is not None:
                continue  # padding after the row ended
            if token == self.eos:
                row.finish = "stop"
                self._flush(row, final=True)
                continue
            row.tokens.append(token)
            self._advance(row)
            if row.finish is None and len(row.tokens) >= self.max_new_tokens:
                row.finish = "length"
                self._flush(row, final=True)

    def end(self) -> None:
        for row in self.rows:
            if row.finish is None:  # the batch stopped: only the token limit does that
                row.finish = "length"
            self._flush(row, final=True)

    def _advance(self, row: _Row) -> None:
        text = self.tokenizer.decode(row.tokens, skip_special_tokens=True).lstrip()
        hits = [text.find(s) for s in row.sink.stop if s and s in text]
        if hits:
            row.text, row.finish = text[: min(hits)], "stop"
            self._flush(row, final=True)
            return
        row.text = text
        self._flush(row, final=False)

    def _flush(self, row: _Row, final: bool) -> None:
        end = len(row.text)
        if not final:
            if row.text.endswith("\ufffd"):  # a character split across tokens: wait for the rest
                end -= 1
            # Hold back a tail that may still become a stop string.
            for stop in row.sink.stop:
                for size in range(min(len(stop) - 1, end), 0, -1):
                    if row.text[:end].endswith(stop[:size]):
                        end -= size
                        break
        if end > row.sent:
            row.sink.emit(row.text[row.sent : end])
            row.sent = end


@torch.inference_mode()
def stream(
    dialogue: DialogueModel,
    prompts: Sequence[list[int]],
    settings: Settings,
    sinks: Sequence[StreamSink],
    seed: int | None = None,
) -> list[StreamResult]:
    """One generate() call for all prompts; each sink gets its reply as it is decoded."""
    inputs, _ = dialogue.generate_inputs(prompts, settings)
    rows = _Rows(dialogue, sinks, settings.max_new_tokens)
    if seed is not None:
        torch.manual_seed(seed)  # requests with a seed are batched only with the same seed
    dialogue.model.generate(**inputs, stopping_criteria=StoppingCriteriaList([rows]), streamer=rows)
    return [
        StreamResult(row.text, row.finish or "length", len(prompt), len(row.tokens))
        for row, prompt in zip(rows.rows, prompts, strict=True)
    ]
