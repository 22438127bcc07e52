"""Streamed replies with continuous batching: sequences join and leave the running batch between
decoding steps, each sending its text to its own sink as it is decoded.

The engine keeps one running batch (each row's next token, the attention mask, the KV cache)
and works on the inference thread in slices of at most `slice_steps` steps; after a slice it
queues itself again behind whatever else waits for that thread (V1 batches), so neither side
starves. Streams that arrived join the batch between forwards: their prompts are prefilled
together, their first token is sent at once, and their cache is merged into the batch, left-
padded to a common length. Prefill comes first, as vLLM schedules it: those that land during a
decoding forward are prefilled as soon as it ends, and their first token goes out with that
step's tokens; those that land during a prefill get one more before the step. So a new request
waits for at most the rest of one forward, never for a long reply to finish, and concurrent
streams still share one forward per step. A row leaves the batch at its EOS, a stop
string, its token limit or as soon as its client is gone: the next step no longer computes it.

Each row decodes by its own settings (greedy, or sampled with its temperature and top_p from
its own random generator, so a seeded request samples the same text whatever it is batched
with), bans repeated n-grams within its reply and never ends before its first token, as
generation.py's generate() does. transformers' built-in continuous batching was about 100x
slower than a plain batched generate() on CPU here; this loop is a plain forward per step.

What is sent cannot be taken back, so the guards that need the whole reply (generation.py) come
at the end: a reply that ended by itself or at the token limit and is degenerate or (greedy, on
a model with a reply gate) below the gate gets the same beam retry and fallback as a whole
reply, returned as its `replacement`; the route tells the client to show that instead. The
retry's beams are rows of the running batch (beam_retry.py): a retry costs the streams a few
rows per step, not a generate() call they all wait for.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from predictors.chatbot.beam_retry import BeamRetry
from predictors.chatbot.generation import DialogueModel, Settings
from predictors.common.metrics import GENERATED_TOKENS, STREAMS_RUNNING, TIME_TO_FIRST_TOKEN, for_model


@dataclass
class StreamSink:
    """Where one sequence's text goes; called on the inference thread."""

    emit: Callable[[str], None]  # a piece of text, in order; called on the submitter's event loop
    cancelled: Callable[[], bool] = lambda: False  # the client is gone or pressed stop
    stop: Sequence[str] = ()  # stop strings: the reply ends before the first one


@dataclass
class StreamJob:
    """A streamed reply: its prompt, settings, and the sink its text goes to."""

    prompt: list[int]
    settings: Settings
    sink: StreamSink
    seed: int | None = None


@dataclass
class StreamResult:
    text: str
    finish_reason: str  # "stop" (EOS or a stop string), "length" (the token limit) or "cancelled"
    prompt_tokens: int
    completion_tokens: int
    replacement: str | None = None  # the guarded reply, when the streamed one did not stand


@dataclass
class _Row:
    job: StreamJob
    settle: Callable[[StreamResult | BaseException], None]  # the caller's future; call on `loop` only
    loop: asyncio.AbstractEventLoop  # the submitter's: its text and its outcome are delivered there
    generator: torch.Generator | None = None
    tokens: list[int] = field(default_factory=list)
    next_token: int = -1  # chosen, sent, not yet fed to the model
    followers: dict[tuple[int, ...], set[int]] = field(default_factory=lambda: defaultdict(set))  # n-gram ban
    text: str = ""  # the reply so far, stop strings cut
    sent: int = 0  # how much of `text` the sink has
    finish: str | None = None
    eos: bool = False  # the model ended the reply (not a stop string, the limit or the client)
    abandoned: bool = False  # the caller stopped waiting (deadline)
    logprob: float = 0.0  # sum of the model's log-probabilities of the tokens chosen (reply gate)
    arrived: float = field(default_factory=time.perf_counter)

    def gone(self) -> bool:
        return self.abandoned or self.job.sink.cancelled()


@dataclass
class _BeamRow:
    """One beam of a finished row's retry, in the running batch beside the streams."""

    retry: BeamRetry
    origin: _Row  # the row whose reply is retried: its result waits for the retry
    next_token: int = -1


class StreamEngine:
    def __init__(
        self,
        dialogue: DialogueModel,
        executor: Executor,
        name: str = "chatbot",
        max_rows: int = 64,
        slice_steps: int = 8,
    ) -> None:
        self.dialogue = dialogue
        self.running_gauge = STREAMS_RUNNING.labels(name)
        self.tokens_counter = GENERATED_TOKENS.labels(name)
        self.first_token = TIME_TO_FIRST_TOKEN.labels(name)
        self.queue_depth = for_model(name).queue_depth  # streams not yet decoding, beside V1's queue
        self.executor = executor
        self.max_rows = max_rows
        self.slice_steps = slice_steps
        self.lock = threading.Lock()
        self.pending: list[_Row] = []  # submitted, not yet in the batch
        self.scheduled = False  # a slice is queued or running on the inference thread
        # The running batch, touched only on the inference thread.
        self.rows: list[_Row | _BeamRow] = []
        self.retries: list[_Row] = []  # finished rows whose reply is retried, beams not yet in the batch
        self.joining: list[_Row] = []  # being prefilled
        # What this step hands to callers (text pieces, then outcomes), per event loop: one
        # wake-up of each loop per step, not one per row or per result. Each wake-up is a write to
        # the loop's self-pipe after which this thread waits for the GIL while the loop runs: at
        # c=32 those waits were a fifth of this thread's time.
        self.outbox: dict[asyncio.AbstractEventLoop, list[tuple[Callable[[object], None], object]]] = defaultdict(list)
        self.mask: torch.Tensor | None = None  # (rows, columns): 0 for left padding
        self.cache: DynamicCache | None = None

    @property
    def running(self) -> int:
        """Sequences in the running batch (streams and retry beams): each costs compute at every step."""
        return len(self.rows)

    async def submit(self, jobs: Sequence[StreamJob]) -> list[StreamResult]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in jobs]

        rows = [_Row(job, _settler(future), loop, _generator(job)) for job, future in zip(jobs, futures, strict=True)]
        with self.lock:
            self.pending.extend(rows)
            self.queue_depth.inc(len(rows))
            if not self.scheduled:
                self.scheduled = True
                self.executor.submit(self._slice)
        try:
            return list(await asyncio.gather(*futures))
        except asyncio.CancelledError:
            for row in rows:
                row.abandoned = True  # out of the batch at the next step
            raise

    # ------------------------------------------------------------ inference thread

    def _slice(self) -> None:
        try:
            for _ in range(self.slice_steps):
                if self._admit():
                    # Streams that arrived during that prefill join now, not after the decoding
                    # step: their first token waits for one prefill, not for a step and a prefill
                    # (c=8 first-token p50 over a lone stream's, alternating runs here: 1.7-1.9,
                    # against 2.1-2.3). One more at most: the running streams still get a token
                    # every step.
                    self._admit()
                if not self.rows:
                    break
                self._step()
            self._post()  # results of rows whose client left
        except BaseException as exc:  # noqa: BLE001 - every waiting caller gets the failure, then re-raised
            with self.lock:
                self.queue_depth.dec(len(self.pending))
                failed, self.pending = self.joining + self.rows + self.pending + self.retries, []
            self.joining, self.rows, self.retries, self.mask, self.cache = [], [], [], None, None
            origins = {id(row): row for row in (r.origin if isinstance(r, _BeamRow) else r for r in failed)}
            for row in origins.values():  # after what the outbox holds: results of rows that finished stand
                self.outbox[row.loop].append((row.settle, exc))
            self._post()
            raise
        finally:
            with self.lock:
                self.scheduled = bool(self.rows or self.pending or self.retries)
            if self.scheduled:
                self.executor.submit(self._slice)  # behind what queued for the thread meanwhile

    def _admit(self) -> bool:
        """Prefill the streams that arrived (`_prefill`) and send them their first token. False
        when there was nothing to prefill."""
        admitted = self._prefill()
        if admitted is None:
            return False
        self._advance(*admitted)
        return True

    @torch.inference_mode()
    def _prefill(self) -> tuple[list[_Row], list[int]] | None:
        """Prefill the streams that arrived and the prompts of the retries that start, in one
        forward; take the retries' first beam step, and merge both into the batch (a retry as
        `beams` rows sharing its prompt's cache). The streams that joined and their first tokens,
        chosen, not yet sent; None when there was nothing to prefill."""
        with self.lock:
            room = self.max_rows - len(self.rows)
            joining, self.pending = self.pending[:room], self.pending[room:]
            self.queue_depth.dec(len(joining))
        joining = [row for row in joining if not self._left(row)]
        retries, self.retries = self.retries, []
        self._settle([row for row in retries if row.gone()])  # no retry for no one: the reply as decoded
        retries = [row for row in retries if not row.gone()]
        if not joining and not retries:
            return None
        self.joining = joining + retries  # in no list the failure path reads but this one
        dialogue = self.dialogue
        prompts = [r.job.prompt for r in joining + retries]
        batch = dialogue.tokenizer.pad({"input_ids": prompts}, return_tensors="pt")
        ids, mask = batch["input_ids"].to(dialogue.device), batch["attention_mask"].to(dialogue.device)
        cache = DynamicCache()
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        logits = dialogue.model(  # the last position's logits only: a long prompt's would be most of the work
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        ).logits[:, -1]
        rows: list[_Row | _BeamRow] = list(joining)
        keep = list(range(len(joining)))  # the prefill's rows the batch takes, a retry's `beams` times
        for index, origin in enumerate(retries, start=len(joining)):
            retry = BeamRetry(origin.job.prompt, origin.job.settings, dialogue.eos)
            retry.advance(logits[index : index + 1].expand(retry.beams, -1))  # all beams start alike
            if retry.done:
                self._settle_retry(origin, retry)
                continue
            rows += [_BeamRow(retry, origin, token) for token in retry.next_tokens]
            keep += [index] * retry.beams
        index = torch.tensor(keep, device=mask.device)
        _take_rows(cache, index)
        self._merge(rows, mask.index_select(0, index), cache)
        self.joining = []
        return joining, self._scored(logits[: len(joining)], joining)

    @torch.inference_mode()
    def _step(self) -> None:
        """One decoding step for every row still wanted: the streams' next tokens and the retries'
        next beam step, in one forward."""
        self._drop([i for i, row in enumerate(self.rows) if self._left(row)])
        if not self.rows:
            return
        device = self.dialogue.device
        ids = torch.tensor([[row.next_token] for row in self.rows], device=device)
        self.mask = torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=1)
        positions = self.mask.sum(dim=1, keepdim=True) - 1
        logits = self.dialogue.model(
            input_ids=ids, attention_mask=self.mask, position_ids=positions, past_key_values=self.cache, use_cache=True
        ).logits[:, -1]
        streams = [i for i, row in enumerate(self.rows) if isinstance(row, _Row)]
        rows = [self.rows[i] for i in streams]
        done = self._beam_step(logits)
        tokens = self._scored(logits[streams], rows)
        # Streams that arrived during this forward are prefilled now, before the step's tokens
        # go out, and their first token goes with them: it waits for the rest of one forward,
        # not for the step's delivery and a prefill after it, and the event loop is woken once.
        joining, first = self._prefill() or ([], [])
        self._advance(rows + joining, tokens + first)
        gone = {id(row) for row in done}
        self._drop([i for i, row in enumerate(self.rows) if id(row) in gone])

    def _beam_step(self, logits: torch.Tensor) -> list[_BeamRow]:
        """Each retry's beam step from its rows' logits: its beams move to the cache rows they
        continue (one reordering of the batch's cache for all retries); a retry that is done gets
        its row's result, and its rows are returned, to leave the batch."""
        groups: dict[int, list[int]] = defaultdict(list)
        for i, row in enumerate(self.rows):
            if isinstance(row, _BeamRow):
                groups[id(row.retry)].append(i)
        if not groups:
            return []
        order, done = list(range(len(self.rows))), []
        for positions in groups.values():
            first = self.rows[positions[0]]
            retry = first.retry
            sources = retry.advance(logits[positions])
            for position, source, token in zip(positions, sources, retry.next_tokens, strict=True):
                order[position] = positions[source]
                self.rows[position].next_token = token
            if retry.done:
                self._settle_retry(first.origin, retry)
                done += [self.rows[i] for i in positions]
        if order != list(range(len(order))):  # a retry's rows share their mask: only the cache moves
            _take_rows(self.cache, torch.tensor(order, device=self.mask.device))
        return done

    def _left(self, row: _Row | _BeamRow) -> bool:
        """A row whose caller or client is gone: finished as cancelled, nothing more computed."""
        if isinstance(row, _BeamRow):  # its retry is no one's answer any more: the reply as decoded
            if row.origin.gone() and not row.retry.done:
                row.retry.done = True  # its other beams leave without settling again
                self._settle([row.origin])
            return row.origin.gone()
        if row.finish is None and row.gone():
            row.finish = "cancelled"
            self._finish([row])
        return row.finish == "cancelled"

    def _scored(self, logits: torch.Tensor, rows: Sequence[_Row]) -> list[int]:
        """`_choose`, and on a model with a reply gate each row's log-probability of its token
        under the model's own distribution, summed as it decodes: the gate needs no second
        forward over the reply (generation.py's `_mean_logprob` computes the same)."""
        tokens = self._choose(logits, rows)
        if self.dialogue.gate is not None:
            chosen = torch.tensor(tokens, device=logits.device)[:, None]
            picked = torch.log_softmax(logits.float(), dim=-1).gather(-1, chosen).squeeze(-1).tolist()
            for row, value in zip(rows, picked, strict=True):
                row.logprob += value
        return tokens

    def _choose(self, logits: torch.Tensor, rows: Sequence[_Row]) -> list[int]:
        """Each row's next token under its own settings (generation.py's recipe)."""
        scores = logits.float()
        banned_rows: list[int] = []
        banned_tokens: list[int] = []
        for i, row in enumerate(rows):
            settings = row.job.settings
            if settings.repetition_penalty != 1.0:
                seen = torch.tensor(row.job.prompt + row.tokens, device=scores.device)
                picked = scores[i, seen]
                scores[i, seen] = torch.where(
                    picked < 0, picked * settings.repetition_penalty, picked / settings.repetition_penalty
                )
            size = settings.no_repeat_ngram_size
            if size >= 1 and len(row.tokens) >= size - 1:
                for token in row.followers.get(tuple(row.tokens[len(row.tokens) - size + 1 :]), ()):
                    banned_rows.append(i)
                    banned_tokens.append(token)
            if not row.tokens:  # an immediate EOS would be an empty reply
                banned_rows.append(i)
                banned_tokens.append(self.dialogue.eos)
        if banned_rows:  # one indexed write for the whole batch
            scores[banned_rows, banned_tokens] = -float("inf")
        chosen = scores.argmax(dim=-1).tolist()
        for i, row in enumerate(rows):
            if row.job.settings.do_sample:
                chosen[i] = _sample(scores[i], row.job.settings, row.generator)
        return chosen

    def _advance(self, rows: Sequence[_Row], tokens: Sequence[int]) -> None:
        self.tokens_counter.inc(len(rows))
        finished = []
        for row, token in zip(rows, tokens, strict=True):
            self._push(row, token)
            if row.finish is not None:
                finished.append(row)
        if finished:
            self._finish(finished)  # their results queue behind their text
            gone = {id(row) for row in finished}
            self._drop([i for i, row in enumerate(self.rows) if id(row) in gone])
        self._post()
        self.running_gauge.set(len(self.rows))

    def _push(self, row: _Row, token: int) -> None:
        if not row.tokens and not row.eos:
            self.first_token.observe(time.perf_counter() - row.arrived)
        if token == self.dialogue.eos:
            row.finish, row.eos = "stop", True
            self._flush(row, final=True)
            return
        size = row.job.settings.no_repeat_ngram_size
        row.tokens.append(token)
        if size >= 1 and len(row.tokens) >= size:
            gram = row.tokens[-size:]
            row.followers[tuple(gram[:-1])].add(gram[-1])
        row.next_token = token
        text = self.dialogue.tokenizer.decode(row.tokens, skip_special_tokens=True).lstrip()
        hits = [text.find(s) for s in row.job.sink.stop if s and s in text]
        if hits:
            row.text, row.finish = text[: min(hits)], "stop"
            self._flush(row, final=True)
            return
        row.text = text
        if len(row.tokens) >= row.job.settings.max_new_tokens:
            row.finish = "length"
        self._flush(row, final=row.finish is not None)

    def _flush(self, row: _Row, final: bool) -> None:
        end = len(row.text)
        if not final:
            if row.text.endswith("\ufffd"):  # a character split across tokens: wait for the rest
                end -= 1
            # Hold back a tail that may still become a stop string.
            for stop in row.job.sink.stop:
                for size in range(min(len(stop) - 1, end), 0, -1):
                    if row.text[:end].endswith(stop[:size]):
                        end -= size
                        break
        if end > row.sent:
            self.outbox[row.loop].append((row.job.sink.emit, row.text[row.sent : end]))
            row.sent = end

    # ------------------------------------------------------------ the batch's tensors

    def _merge(self, joining: list[_Row], mask: torch.Tensor, cache: DynamicCache) -> None:
        if not self.rows:
            self.rows, self.mask, self.cache = list(joining), mask, cache
            return
        width = max(self.mask.shape[1], mask.shape[1])
        old, new = width - self.mask.shape[1], width - mask.shape[1]
        self.mask = torch.cat([F.pad(self.mask, (old, 0)), F.pad(mask, (new, 0))], dim=0)
        for mine, theirs in zip(self.cache.layers, cache.layers, strict=True):
            # (rows, heads, columns, dim): pad the columns on the left, join the rows.
            mine.keys = torch.cat([F.pad(mine.keys, (0, 0, old, 0)), F.pad(theirs.keys, (0, 0, new, 0))], dim=0)
            mine.values = torch.cat([F.pad(mine.values, (0, 0, old, 0)), F.pad(theirs.values, (0, 0, new, 0))], dim=0)
        self.rows.extend(joining)

    def _drop(self, indices: list[int]) -> None:
        """Take rows out of the batch, and the columns that are padding for every row left."""
        if not indices:
            return
        drop = set(indices)
        keep = [i for i in range(len(self.rows)) if i not in drop]
        self.rows = [self.rows[i] for i in keep]
        self.running_gauge.set(len(self.rows))
        if not self.rows:
            self.mask, self.cache = None, None
            return
        index = torch.tensor(keep, device=self.mask.device)
        self.mask = self.mask.index_select(0, index)
        start = int((self.mask.sum(dim=0) == 0).long().cumprod(dim=0).sum())  # leading all-padding columns
        self.mask = self.mask[:, start:]
        _take_rows(self.cache, index, start)

    # ------------------------------------------------------------ results

    def _finish(self, rows: Sequence[_Row]) -> None:
        """Hand over the results of rows that stand now; those the guards replace wait for their
        retry, whose beams join the batch at the next admission."""
        unsure = [self._unsure(row) for row in rows]
        self.retries.extend(row for row, flag in zip(rows, unsure, strict=True) if flag)
        self._settle([row for row, flag in zip(rows, unsure, strict=True) if not flag])

    def _confidence(self, row: _Row) -> float | None:
        """Mean log-probability over the reply's tokens and the EOS that ended it, as
        generation.py's `_mean_logprob` counts; None where no gate applies."""
        if self.dialogue.gate is None or row.job.settings.do_sample:
            return None
        return row.logprob / (len(row.tokens) + row.eos)

    def _unsure(self, row: _Row) -> bool:
        if not (row.eos or row.finish == "length"):  # cut by a stop string or its client: as asked
            return False
        gated = self.dialogue.gate is not None and not row.job.settings.do_sample
        return self.dialogue.unsure(row.text, self._confidence(row), gated)

    def _post(self) -> None:
        for loop, calls in self.outbox.items():
            loop.call_soon_threadsafe(_deliver, calls)
        self.outbox = defaultdict(list)

    def _settle(self, rows: Sequence[_Row], replacement: str | None = None) -> None:
        """Hand each finished row its result after its text (the outbox keeps the order); they go
        out with the step's pieces."""
        for row in rows:
            prompt = len(row.job.prompt)
            result = StreamResult(row.text, row.finish or "length", prompt, len(row.tokens), replacement)
            self.outbox[row.loop].append((row.settle, result))

    def _settle_retry(self, row: _Row, retry: BeamRetry) -> None:
        """The row's result with what its retry found in place of its reply (or the fallback)."""
        tokens, confidence = retry.best()
        reply, _ = self.dialogue.reply_text(tokens)
        self._settle([row], self.dialogue.retried(reply, confidence if self.dialogue.gate is not None else None))


def _take_rows(cache: DynamicCache, index: torch.Tensor, start: int = 0) -> None:
    """The cache's rows `index` (in that order, repeats allowed), from column `start` on."""
    for layer in cache.layers:  # (rows, heads, columns, dim)
        layer.keys = layer.keys.index_select(0, index)[:, :, start:]
        layer.values = layer.values.index_select(0, index)[:, :, start:]


def _deliver(calls: list[tuple[Callable[[object], None], object]]) -> None:
    for call, argument in calls:
        call(argument)


def _settler(future: asyncio.Future) -> Callable[[StreamResult | BaseException], None]:
    def settle(outcome: StreamResult | BaseException) -> None:
        if future.done():  # the caller stopped waiting
            return
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    return settle


def _generator(job: StreamJob) -> torch.Generator | None:
    if not job.settings.do_sample:
        return None
    generator = torch.Generator()
    if job.seed is not None:
        generator.manual_seed(job.seed)
    else:
        generator.seed()
    return generator


def _sample(scores: torch.Tensor, settings: Settings, generator: torch.Generator | None) -> int:
    """Temperature, then nucleus (top_p) filtering, then one draw: transformers' warpers' order."""
    logits = scores / settings.temperature
    if settings.top_p < 1.0:
        ordered, order = torch.sort(logits, descending=True)
        cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
        remove = cumulative - ordered.softmax(dim=-1) >= settings.top_p  # keep the token that crosses top_p
        logits = logits.clone()
        logits[order[remove]] = -float("inf")
    probs = logits.softmax(dim=-1).cpu()
    return int(torch.multinomial(probs, 1, generator=generator))
