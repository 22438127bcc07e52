"""DialoGPT-style reply generation: prompt building, history trimming and batched generate().

No kserve here: the predictor, the terminal chat and the tests share this code.
A DialoGPT prompt is the turns joined by the EOS token, ending with EOS; the reply is what the
model writes next, up to its own EOS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from predictors.common.device import resolve_device
from predictors.common.model_dir import check_model_dir


class PromptTooLong(ValueError):
    """The message alone does not fit the model's context with room for the reply."""


@dataclass(frozen=True)
class Settings:
    """Generation settings; requests with equal settings can share one generate() call."""

    max_new_tokens: int = 40
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0


def keep_from(turn_lengths: Sequence[int], budget: int) -> int:
    """Index of the oldest turn to keep so the newest turns fit in `budget` tokens.

    The last turn (the user's message) must fit on its own, else PromptTooLong.
    """
    if not turn_lengths or turn_lengths[-1] > budget:
        raise PromptTooLong(f"the message needs {turn_lengths[-1] if turn_lengths else 0} tokens; "
                            f"at most {budget} fit with the requested reply length")
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

    def prompt_ids(self, history: Sequence[str], message: str, max_new_tokens: int) -> list[int]:
        """Token ids of the newest turns that fit the context with `max_new_tokens` to spare."""
        turns = [self.tokenizer.encode(turn) + [self.eos] for turn in [*history, message]]
        start = keep_from([len(t) for t in turns], self.context - max_new_tokens)
        return [token for turn in turns[start:] for token in turn]

    @torch.inference_mode()
    def generate(self, prompts: Sequence[list[int]], settings: Settings) -> list[str]:
        """One generate() call for all prompts (left-padded); one reply per prompt."""
        batch = self.tokenizer.pad({"input_ids": list(prompts)}, return_tensors="pt").to(self.device)
        sampling = {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p} \
            if settings.do_sample else {"do_sample": False}
        output = self.model.generate(
            **batch,
            max_new_tokens=settings.max_new_tokens,
            min_new_tokens=1,  # an immediate EOS would be an empty reply
            eos_token_id=self.eos,
            pad_token_id=self.tokenizer.pad_token_id,
            **sampling,
        )
        new_tokens = output[:, batch["input_ids"].shape[1]:]
        return [self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in new_tokens]

    def reply(self, history: Sequence[str], message: str, settings: Settings = Settings()) -> str:
        return self.generate([self.prompt_ids(history, message, settings.max_new_tokens)], settings)[0]
