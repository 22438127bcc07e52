"""The guards' beam-search retry of one prompt, a decoding step at a time, for the stream engine.

generation.py retries a reply that did not stand with `generate(num_beams=RETRY_BEAMS)`. In the
stream engine that call held the inference thread for 30-50 ms on the tiny model while every
running stream and every newcomer waited: at c=32 a third of the thread's time. Here the retry's
beams are rows of the engine's running batch instead, decoded in the same forward as the streams
(a few more rows cost little), and this class does the search's bookkeeping between forwards.

The search is transformers' beam search (transformers/generation/utils.py, `_beam_search`), with
the defaults generate() uses here: length_penalty 1.0, early_stopping False, top 2 x beams
candidates per step, the same logits processors on log-probabilities, a candidate ending in EOS or
at the token limit finished; the ops are the same torch ops on the same shapes, so ties break the
same way. tests/unit/test_streaming.py checks the replies against generate()'s on many prompts.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor, MinNewTokensLengthLogitsProcessor, RepetitionPenaltyLogitsProcessor

from predictors.chatbot.generation import RETRY_BEAMS, ReplyNoRepeatNGram, Settings

_NEG = -1.0e9  # transformers' "never": added to a score, not set


class BeamRetry:
    def __init__(self, prompt: list[int], settings: Settings, eos: int, beams: int = RETRY_BEAMS) -> None:
        self.prompt, self.eos, self.beams = prompt, eos, beams
        self.max_new_tokens = settings.max_new_tokens
        # A plain list: LogitsProcessorList inspects each processor's signature on every call,
        # which cost more than the processors themselves at a call per retry per step.
        self.processors: list[LogitsProcessor] = [MinNewTokensLengthLogitsProcessor(len(prompt), 1, eos)]
        if settings.repetition_penalty != 1.0:
            self.processors.insert(0, RepetitionPenaltyLogitsProcessor(settings.repetition_penalty))
        self.processors.append(ReplyNoRepeatNGram(settings.no_repeat_ngram_size, len(prompt)))
        # Running beams: their sequences (prompt and reply), scores (only beam 0 is live at first,
        # so the first step does not pick the same token four times) and the sum of the model's
        # own log-probabilities of their reply tokens (what the reply gate reads).
        self.running = torch.tensor([prompt] * beams, dtype=torch.long)
        self.scores = torch.full((1, beams), _NEG)
        self.scores[0, 0] = 0.0
        self.model_logprob = torch.zeros(beams)
        # Finished hypotheses: the best `beams`, by score per reply token.
        self.finished: list[tuple[list[int], float]] = [([], 0.0)] * beams  # reply tokens, model log-prob sum
        self.finished_scores = torch.full((1, beams), _NEG)
        self.is_finished = torch.zeros((1, beams), dtype=torch.bool)
        self.improvable = torch.ones((1, 1), dtype=torch.bool)
        self.done = False

    @property
    def next_tokens(self) -> list[int]:
        """The token each running beam feeds to the next forward."""
        return self.running[:, -1].tolist()

    def advance(self, logits: torch.Tensor) -> list[int]:
        """One step from the logits of the running beams' last position (beams, vocab); returns,
        for each new running beam, the beam it continues (its cache row must be that one's)."""
        generated = self.running.shape[1] - len(self.prompt)
        vocab = logits.shape[-1]
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        model_logprob = log_probs
        for processor in self.processors:
            log_probs = processor(self.running, log_probs)
        candidates = (log_probs + self.scores[0, :, None]).reshape(1, -1)
        # Top 2 x beams continuations over all beams: enough to keep `beams` running past EOS.
        top_scores, top_indices = torch.topk(candidates, k=2 * self.beams)
        source, tokens = top_indices // vocab, top_indices % vocab
        sequences = torch.cat([self.running[source[0]], tokens[0][:, None]], dim=1)
        model_sums = self.model_logprob[source[0]] + model_logprob[source[0], tokens[0]]
        hits = (tokens == self.eos) | (generated + 1 >= self.max_new_tokens)

        # The best `beams` candidates that did not finish run on.
        running_scores = top_scores + hits.to(torch.float32) * _NEG
        keep = torch.topk(running_scores, k=self.beams)[1][0]
        self.running, self.scores = sequences[keep], running_scores[:, keep]
        self.model_logprob = model_sums[keep]

        # Finished candidates among the top `beams` join the hypotheses, scored per reply token.
        top_mask = torch.arange(2 * self.beams)[None, :] < self.beams
        just_finished = hits & top_mask
        finished_scores = top_scores / float(generated + 1)
        finished_scores = finished_scores + (~self.improvable).to(torch.float32) * _NEG
        finished_scores = finished_scores + (~just_finished) * _NEG
        merged = torch.cat([self.finished_scores, finished_scores], dim=1)
        best = torch.topk(merged, k=self.beams)[1][0].tolist()
        start = len(self.prompt)
        pool = self.finished + [(sequences[i, start:].tolist(), float(model_sums[i])) for i in range(2 * self.beams)]
        self.finished = [pool[i] for i in best]
        self.finished_scores = merged[:, best]
        self.is_finished = torch.cat([self.is_finished, just_finished], dim=1)[:, best]

        # Can a running beam still beat the worst hypothesis (transformers' early_stopping=False rule)?
        best_possible = self.scores[:, :1] / float(generated + 1)
        worst = torch.where(self.is_finished, torch.min(self.finished_scores, dim=1, keepdim=True)[0], _NEG)
        self.improvable = self.improvable & torch.any(best_possible > worst, dim=-1, keepdim=True)
        self.done = not bool(self.improvable.any()) or bool(hits.all())
        return source[0, keep].tolist()

    def best(self) -> tuple[list[int], float]:
        """The best hypothesis: its reply tokens (with the EOS that ended it, if one did) and the
        model's mean log-probability over them, as generation.py's `_mean_logprob` counts."""
        tokens, model_sum = self.finished[0]
        return tokens, model_sum / max(1, len(tokens))
