"""DialoGPT-style reply generation: prompt building, history trimming and batched generate().

No kserve here: the predictor, the terminal chat and the tests share this code.
A DialoGPT prompt is the turns joined by the EOS token, ending with EOS; the reply is what the
model writes next, up to its own EOS.

Decoding cannot babble: no n-gram repeats inside a reply, a reply cut by `max_new_tokens` ends
at its last full sentence, and a reply with no word in it (or one word over and over) is
decoded again with beam search; if that fails too, the answer is FALLBACK_REPLY, never the
degenerate text. A model dir may carry a reply gate (GATE_FILE, written by `train_tiny`): a
greedy reply whose mean token log-probability is below it is one the model was guessing at
(on a small model, usually two training sentences spliced together), so it gets the same beam
retry and fallback. DialoGPT-medium has no gate file and decodes as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessor, LogitsProcessorList

from predictors.common.device import resolve_device
from predictors.common.model_dir import check_model_dir

FALLBACK_REPLY = "Sorry, I don't have a good answer to that."
RETRY_BEAMS = 4
GATE_FILE = "reply_gate.json"
_SENTENCE_END = re.compile(r"[.!?…]['\")]?(?=\s|$)")


class PromptTooLong(ValueError):
    """The message alone does not fit the model's context with room for the reply."""


@dataclass(frozen=True)
class Settings:
    """Generation settings; requests with equal settings can share one generate() call."""

    max_new_tokens: int = 64
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    no_repeat_ngram_size: int = 3  # within the reply only (see ReplyNoRepeatNGram)
    repetition_penalty: float = 1.0  # transformers' own: counts the prompt's tokens too

    def effective(self) -> Settings:
        """Equal for requests that decode alike: greedy decoding ignores temperature and top_p,
        so greedy requests that differ only there share one generate() call."""
        return self if self.do_sample else replace(self, temperature=Settings.temperature, top_p=Settings.top_p)


class ReplyNoRepeatNGram(LogitsProcessor):
    """No n-gram twice in the reply. transformers' `no_repeat_ngram_size` also counts the prompt,
    so a reply could not repeat three words of the user's message ("I am doing well" after
    "are you doing well?"); this one looks only at tokens after `start`."""

    def __init__(self, size: int, start: int):
        self.size, self.start = size, start

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        reply = input_ids[:, self.start :]
        if self.size < 1 or reply.shape[1] < self.size:
            return scores
        # Every n-gram of the reply so far, as a window; one whose first n-1 tokens equal the last
        # n-1 tokens bans its last token. Tensor ops: a Python loop per row and step cost seconds
        # on a batch of long sampled replies.
        windows = reply.unfold(1, self.size, 1)  # (batch, windows, n)
        prefix = reply[:, reply.shape[1] - self.size + 1 :].unsqueeze(1)  # (batch, 1, n-1)
        repeats = (windows[:, :, :-1] == prefix).all(dim=-1).to(scores.dtype)  # (batch, windows)
        banned = torch.zeros_like(scores).scatter_reduce_(1, windows[:, :, -1], repeats, reduce="amax")
        return scores.masked_fill(banned > 0, -float("inf"))


def degenerate(reply: str) -> bool:
    """Empty, no letter or digit, or one word making up most of a long reply."""
    words = re.findall(r"\w+", reply.lower())
    if not words:
        return True
    return len(words) >= 6 and max(words.count(w) for w in set(words)) > len(words) / 2


def complete_sentences(reply: str) -> str:
    """A reply cut by the token limit, up to its last sentence end (when it has one)."""
    ends = [m.end() for m in _SENTENCE_END.finditer(reply)]
    return reply[: ends[-1]] if ends else reply


def keep_from(turn_lengths: Sequence[int], budget: int) -> int:
    """Index of the oldest turn to keep so the newest turns fit in `budget` tokens.

    The last turn (the user's message) must fit on its own, else PromptTooLong.
    """
    if not turn_lengths or turn_lengths[-1] > budget:
        raise PromptTooLong(
            f"the message needs {turn_lengths[-1] if turn_lengths else 0} tokens; "
            f"at most {budget} fit with the requested reply length"
        )
    total, start = 0, len(turn_lengths)
    for index in range(len(turn_lengths) - 1, -1, -1):
        if total + turn_lengths[index] > budget:
            break
        total += turn_lengths[index]
        start = index
    return start


class DialogueModel:
    """A causal LM dir (DialoGPT or our tiny one) ready to reply to batches of conversations."""

    def __init__(self, model_dir: str | Path, device: str = "auto"):
        directory = check_model_dir(model_dir)
        self.device, dtype = resolve_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(directory)
        self.tokenizer.padding_side = "left"  # generation continues from the right edge
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype, use_safetensors=True)
        self.model.to(self.device).eval()
        config = self.model.config
        self.context = int(getattr(config, "n_positions", None) or config.max_position_embeddings)
        self.eos = self.tokenizer.eos_token_id
        gate = directory / GATE_FILE
        self.gate: float | None = json.loads(gate.read_text())["min_mean_logprob"] if gate.is_file() else None

    def prompt_ids(self, history: Sequence[str], message: str, max_new_tokens: int) -> list[int]:
        """Token ids of the newest turns that fit the context with `max_new_tokens` to spare."""
        turns = [self.tokenizer.encode(turn) + [self.eos] for turn in [*history, message]]
        start = keep_from([len(t) for t in turns], self.context - max_new_tokens)
        return [token for turn in turns[start:] for token in turn]

    @torch.inference_mode()
    def generate_inputs(self, prompts: Sequence[list[int]], settings: Settings, beams: int = 1) -> tuple[dict, int]:
        """generate()'s keyword arguments for `prompts` (left-padded) under `settings`, and the
        column where the replies start: the one recipe for whole and streamed replies."""
        batch = self.tokenizer.pad({"input_ids": list(prompts)}, return_tensors="pt").to(self.device)
        start = batch["input_ids"].shape[1]
        sampling = (
            {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p}
            if settings.do_sample and beams == 1
            else {"do_sample": False}
        )
        return {
            **batch,
            "max_new_tokens": settings.max_new_tokens,
            "min_new_tokens": 1,  # an immediate EOS would be an empty reply
            "num_beams": beams,
            "repetition_penalty": settings.repetition_penalty,
            "logits_processor": LogitsProcessorList([ReplyNoRepeatNGram(settings.no_repeat_ngram_size, start)]),
            "eos_token_id": self.eos,
            "pad_token_id": self.tokenizer.pad_token_id,
            **sampling,
        }, start

    def decode(
        self, prompts: Sequence[list[int]], settings: Settings, beams: int = 1, score: bool = False
    ) -> tuple[list[str], list[float] | None]:
        """One generate() call, no guard: replies and, with `score`, each reply's mean token
        log-probability."""
        inputs, start = self.generate_inputs(prompts, settings, beams)
        output = self.model.generate(**inputs)
        rows, replies, lengths = output[:, start:], [], []
        for row in rows:
            text, length = self.reply_text(row.tolist())
            replies.append(text)
            lengths.append(length)
        if not score:
            return replies, None
        return replies, self._mean_logprob(inputs["input_ids"], inputs["attention_mask"], rows, lengths)

    def reply_text(self, tokens: list[int]) -> tuple[str, int]:
        """A decoded reply's text (cut at its last full sentence when the token limit ended it)
        and its length in tokens up to and with the EOS that ended it."""
        ended = self.eos in tokens
        text = self.tokenizer.decode(tokens, skip_special_tokens=True).strip()
        return (text, tokens.index(self.eos) + 1) if ended else (complete_sentences(text), len(tokens))

    def _mean_logprob(
        self, prompt: torch.Tensor, mask: torch.Tensor, rows: torch.Tensor, lengths: Sequence[int]
    ) -> list[float]:
        """The model's own mean log-probability of each reply's tokens (up to its EOS) after its
        prompt: one forward pass over the batch, the same for greedy and beam replies."""
        full = torch.cat([prompt, rows], dim=1)
        full_mask = torch.cat([mask, torch.ones_like(rows)], dim=1)
        positions = (full_mask.cumsum(dim=1) - 1).clamp(min=0)  # left padding, as generate() counts
        logits = self.model(input_ids=full, attention_mask=full_mask, position_ids=positions).logits
        logprobs = torch.log_softmax(logits[:, prompt.shape[1] - 1 : -1].float(), dim=-1)
        token = logprobs.gather(-1, rows.unsqueeze(-1)).squeeze(-1)
        steps = torch.arange(rows.shape[1], device=rows.device)[None, :]
        valid = steps < torch.tensor(lengths, device=rows.device)[:, None]
        return ((token * valid).sum(dim=1) / valid.sum(dim=1)).tolist()

    def unsure(self, reply: str, confidence: float | None, gated: bool) -> bool:
        """Degenerate, or (when `gated`) below the reply gate: a reply the guards replace."""
        below = self.gate is not None and confidence is not None and confidence < self.gate
        return degenerate(reply) or (gated and below)

    def guard(
        self,
        prompts: Sequence[list[int]],
        replies: Sequence[str],
        confidence: Sequence[float | None],
        settings: Settings,
    ) -> list[str | None]:
        """For each reply, None when it stands, else what replaces it: degenerate replies, and
        greedy replies below the gate, get one beam-search retry, together; then FALLBACK_REPLY."""
        # Sampling lowers the log-probability on purpose: only greedy replies are gated (and scored).
        gated = self.gate is not None and not settings.do_sample
        bad = [i for i, reply in enumerate(replies) if self.unsure(reply, confidence[i], gated)]
        replaced: list[str | None] = [None] * len(replies)
        if bad:
            retry = [prompts[i] for i in bad]
            retried, retried_confidence = self.decode(retry, settings, beams=RETRY_BEAMS, score=self.gate is not None)
            retried_confidence = retried_confidence or [None] * len(retried)
            for i, reply, score in zip(bad, retried, retried_confidence, strict=True):
                replaced[i] = self.retried(reply, score)
        return replaced

    def retried(self, reply: str, confidence: float | None) -> str:
        """What replaces a reply, from its beam retry: the beam reply is held to the gate too
        (a spliced reply is no answer either way), else FALLBACK_REPLY."""
        return FALLBACK_REPLY if self.unsure(reply, confidence, gated=True) else reply

    def generate(self, prompts: Sequence[list[int]], settings: Settings) -> list[str]:
        """One generate() call for all prompts (left-padded); one reply per prompt, guarded."""
        replies, confidence = self.decode(prompts, settings, score=self.gate is not None and not settings.do_sample)
        replaced = self.guard(prompts, replies, confidence or [None] * len(replies), settings)
        return [new if new is not None else reply for reply, new in zip(replies, replaced, strict=True)]

    def reply(self, history: Sequence[str], message: str, settings: Settings = Settings()) -> str:
        return self.generate([self.prompt_ids(history, message, settings.max_new_tokens)], settings)[0]
