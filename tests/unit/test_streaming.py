"""The stream engine on the built tiny chatbot: per-sequence text, stop strings, cancellation,
rows joining a running batch, and the whole-reply guards at the end of a stream."""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from predictors.chatbot.generation import DialogueModel, Settings
from predictors.chatbot.streaming import StreamEngine, StreamJob, StreamResult, StreamSink

LONG = "how do I prepare for exams?"  # about 20 tokens, greedy, above the reply gate
SAMPLED = Settings(max_new_tokens=200, do_sample=True, temperature=3.0)  # long replies: EOS is unlikely


@pytest.fixture(scope="module")
def dialogue(chatbot_dir) -> DialogueModel:
    return DialogueModel(chatbot_dir, "cpu")


@pytest.fixture
def engine(dialogue):
    executor = ThreadPoolExecutor(1)
    yield StreamEngine(dialogue, executor)
    executor.shutdown()


def stream(engine, prompts, settings, sinks, seed=None) -> list[StreamResult]:
    jobs = [StreamJob(prompt, settings, sink, seed) for prompt, sink in zip(prompts, sinks, strict=True)]
    return asyncio.run(engine.submit(jobs))


def test_each_sequence_gets_its_own_text_in_pieces_equal_to_the_plain_decode(dialogue, engine):
    turns = [([], "hi"), (["hi", "Hello"], "how are you?"), ([], "tell me a joke"), ([], LONG)]
    prompts = [dialogue.prompt_ids(h, m, 64) for h, m in turns]
    pieces: list[list[str]] = [[] for _ in turns]
    results = stream(engine, prompts, Settings(), [StreamSink(emit=p.append) for p in pieces])
    plain, _ = dialogue.decode(prompts, Settings())
    for result, got, expected in zip(results, pieces, plain, strict=True):
        assert "".join(got) == result.text
        assert result.finish_reason == "stop" and result.text == expected
    assert len(pieces[3]) > 5  # in pieces, as decoded
    assert engine.running == 0  # every row left the batch


def test_a_cancelled_sequence_leaves_the_batch_within_one_step_while_the_others_run_on(dialogue, engine):
    prompts = [dialogue.prompt_ids([], f"tell me about topic {i}", 200) for i in range(3)]
    emitted = [0, 0, 0]
    cancel_at = 3
    running_when_cancelled: list[int] = []
    tokens_when_flagged: list[int] = []  # row 0's tokens when the engine first saw its flag

    def sink(i: int) -> StreamSink:
        def emit(_: str) -> None:
            emitted[i] += 1
            if i == 1 and emitted[1] == cancel_at + 3:
                running_when_cancelled.append(engine.running)  # two steps after the cancel

        def cancelled() -> bool:  # asked on the inference thread, before each step
            if i != 0 or emitted[0] < cancel_at:
                return False
            if not tokens_when_flagged:
                row = next(r for r in engine.rows if r.job.sink is sinks[0])
                tokens_when_flagged.append(len(row.tokens))
            return True

        return StreamSink(emit=emit, cancelled=cancelled)

    sinks = [sink(i) for i in range(3)]
    results = stream(engine, prompts, SAMPLED, sinks, seed=5)
    assert results[0].finish_reason == "cancelled"
    # Pieces reach the caller's loop after their step (and a token that ends inside a character
    # sends no piece); the flag is seen before the next step: at most the one step in flight when
    # it was seen adds a token.
    assert results[0].completion_tokens <= tokens_when_flagged[0] + 1
    assert max(r.completion_tokens for r in results[1:]) > 20  # the others went on decoding
    assert running_when_cancelled == [2]  # the cancelled row is out of the batch: it costs nothing more


def test_a_stop_string_ends_the_reply_before_it_and_is_never_sent(dialogue, engine):
    prompt = dialogue.prompt_ids([], "what should I study first?", 64)
    (plain,), _ = dialogue.decode([prompt], Settings())
    word = plain.split()[2]
    pieces: list[str] = []
    (result,) = stream(engine, [prompt], Settings(), [StreamSink(emit=pieces.append, stop=[word])])
    assert result.text == plain[: plain.index(word)] and result.finish_reason == "stop"
    assert "".join(pieces) == result.text and word not in "".join(pieces)


def test_a_new_stream_joins_the_running_batch_and_gets_its_first_token_at_once(dialogue, engine):
    """A short request arriving while a long reply decodes does not wait for it to finish; both
    texts are what each prompt decodes to alone (the merged cache is the same computation)."""
    long_prompt = dialogue.prompt_ids([], "tell me about topic 1", 200)
    short_prompt = dialogue.prompt_ids([], LONG, 64)
    (short_alone,), _ = dialogue.decode([short_prompt], Settings())
    (long_alone,) = stream(engine, [long_prompt], SAMPLED, [StreamSink(emit=lambda _: None)], seed=7)
    assert long_alone.completion_tokens > 40

    times: dict[str, list[float]] = {"long": [], "short": []}
    joined = threading.Event()

    async def scenario() -> tuple[StreamResult, StreamResult]:
        loop = asyncio.get_running_loop()

        def on_long(_: str) -> None:
            times["long"].append(time.perf_counter())
            if len(times["long"]) == 10:
                loop.call_soon_threadsafe(joined.set)

        long_job = StreamJob(long_prompt, SAMPLED, StreamSink(emit=on_long), seed=7)
        short_job = StreamJob(
            short_prompt, Settings(), StreamSink(emit=lambda _: times["short"].append(time.perf_counter()))
        )
        long_task = asyncio.ensure_future(engine.submit([long_job]))
        while not joined.is_set():
            await asyncio.sleep(0.001)
        (short,) = await engine.submit([short_job])
        (long,) = await long_task
        return long, short

    long, short = asyncio.run(scenario())
    assert short.text == short_alone
    assert long.text == long_alone.text  # a seeded sampled row: the same with or without company
    assert times["short"][0] < times["long"][-1]  # its first token came while the long one ran
    assert sum(t > times["short"][0] for t in times["long"]) > 10


def test_a_stream_that_arrives_during_a_prefill_joins_before_the_next_decoding_step(dialogue):
    """Prefill first: a newcomer that lands while others are prefilled gets its own prefill
    before the batch decodes, not after a whole decoding step (what its first token waited for
    under load). The forwards, in order, say which came first."""
    calls: list[tuple[str, int]] = []  # ("prefill" or "decode", rows)
    in_prefill, submitted = threading.Event(), threading.Event()
    recorded = copy.copy(dialogue)

    def forward(**inputs):
        ids = inputs["input_ids"]
        calls.append(("decode" if ids.shape[1] == 1 else "prefill", ids.shape[0]))
        if len(calls) == 1:  # the first stream's prefill: the second arrives meanwhile
            in_prefill.set()
            assert submitted.wait(30)
        return dialogue.model(**inputs)

    recorded.model = forward
    executor = ThreadPoolExecutor(1)
    engine = StreamEngine(recorded, executor)
    first = StreamJob(dialogue.prompt_ids([], "hi", 64), Settings(), StreamSink(emit=lambda _: None))
    second = StreamJob(dialogue.prompt_ids([], LONG, 64), Settings(), StreamSink(emit=lambda _: None))

    async def scenario() -> list[StreamResult]:
        running = asyncio.ensure_future(engine.submit([first]))
        await asyncio.get_running_loop().run_in_executor(None, in_prefill.wait)
        joining = asyncio.ensure_future(engine.submit([second]))
        while not engine.pending:  # submitted: waiting for a row
            await asyncio.sleep(0)
        submitted.set()
        return [*(await running), *(await joining)]

    results = asyncio.run(scenario())
    executor.shutdown()
    assert calls[:3] == [("prefill", 1), ("prefill", 1), ("decode", 2)], calls[:6]
    (expected_first, expected_second), _ = dialogue.decode([first.prompt, second.prompt], Settings())
    assert [r.text for r in results] == [expected_first, expected_second]


def test_a_stream_that_arrives_during_a_decoding_forward_gets_its_first_token_with_that_steps(dialogue, monkeypatch):
    """A newcomer that lands while the batch decodes is prefilled as soon as that forward ends,
    before the step's tokens go out, and its first piece goes out with them in one wake-up of
    the event loop: it waits for the rest of one forward, not for the step's delivery too."""
    from predictors.chatbot import streaming

    calls: list[tuple[str, int]] = []
    in_decode, submitted = threading.Event(), threading.Event()
    recorded = copy.copy(dialogue)

    def forward(**inputs):
        ids = inputs["input_ids"]
        calls.append(("decode" if ids.shape[1] == 1 else "prefill", ids.shape[0]))
        if calls.count(("decode", 1)) == 3 and not submitted.is_set():  # the newcomer lands now
            in_decode.set()
            assert submitted.wait(30)
        return dialogue.model(**inputs)

    deliveries: list[list[str]] = []  # per wake-up of the loop: whose pieces it carried
    deliver = streaming._deliver

    def recording(pieces):
        deliveries.append([owner.get(id(call), "result") for call, _ in pieces])
        deliver(pieces)

    monkeypatch.setattr(streaming, "_deliver", recording)
    recorded.model = forward
    executor = ThreadPoolExecutor(1)
    engine = StreamEngine(recorded, executor)
    running_sink = StreamSink(emit=lambda _: None)
    newcomer_sink = StreamSink(emit=lambda _: None)
    owner = {id(running_sink.emit): "running", id(newcomer_sink.emit): "newcomer"}
    running = StreamJob(dialogue.prompt_ids([], "tell me about topic 3", 200), SAMPLED, running_sink, 21)
    newcomer = StreamJob(dialogue.prompt_ids([], LONG, 64), Settings(), newcomer_sink)

    async def scenario() -> list[StreamResult]:
        first = asyncio.ensure_future(engine.submit([running]))
        await asyncio.get_running_loop().run_in_executor(None, in_decode.wait)
        joining = asyncio.ensure_future(engine.submit([newcomer]))
        while not engine.pending:
            await asyncio.sleep(0)
        submitted.set()
        return [*(await first), *(await joining)]

    results = asyncio.run(scenario())
    executor.shutdown()
    assert calls[:6] == [("prefill", 1), ("decode", 1), ("decode", 1), ("decode", 1), ("prefill", 1), ("decode", 2)]
    with_first = next(d for d in deliveries if "newcomer" in d)
    assert with_first == ["running", "newcomer"], deliveries[:6]  # the step's piece, then the first one
    (expected,), _ = dialogue.decode([newcomer.prompt], Settings())
    assert results[1].text == expected


def test_a_streamed_reply_that_does_not_stand_is_replaced_by_the_guarded_reply(dialogue, engine):
    """The whole-reply guards run at the end of a stream: a greedy reply below the gate (or
    degenerate) carries the guarded reply as its replacement, and what a client then keeps is
    what the whole (V1) path answers."""
    messages = ["hi", "how are you?", "zorp blenk quiv?", "purple elephants calculate my taxes", "ok", "??", "why"]
    prompts = [dialogue.prompt_ids([], m, 64) for m in messages]
    results = stream(engine, prompts, Settings(), [StreamSink(emit=lambda _: None) for _ in prompts])
    guarded = dialogue.generate(prompts, Settings())
    kept = [r.replacement if r.replacement is not None else r.text for r in results]
    assert kept == guarded
    assert any(r.replacement is not None for r in results), "no reply fell below the gate: nothing was tested"
    assert any(r.replacement is None for r in results)
    for result in results:
        if result.replacement is not None:
            assert result.replacement != result.text


def test_a_reply_cut_by_its_client_is_not_replaced(dialogue, engine):
    prompt = dialogue.prompt_ids([], "zorp blenk quiv?", 64)
    (result,) = stream(engine, [prompt], Settings(), [StreamSink(emit=lambda _: None, cancelled=lambda: True)])
    assert result.finish_reason == "cancelled" and result.replacement is None and result.completion_tokens == 0


def test_a_seeded_sample_is_the_same_whatever_it_is_batched_with(dialogue, engine):
    prompt = dialogue.prompt_ids([], "tell me about topic 2", 200)
    other = dialogue.prompt_ids(["hi", "Hello"], "what do you like to do on weekends?", 200)
    (alone,) = stream(engine, [prompt], SAMPLED, [StreamSink(emit=lambda _: None)], seed=11)
    together = stream(engine, [other, prompt], SAMPLED, [StreamSink(emit=lambda _: None)] * 2, seed=11)
    assert together[1].text == alone.text and alone.completion_tokens > 20


def test_a_failing_forward_fails_its_callers_and_the_engine_goes_on(dialogue):
    """A fault in the model reaches every waiting caller as an exception (the route answers it
    as a server error), never a hang; the next request runs a fresh slice."""
    broken = copy.copy(dialogue)

    def fail(**_):
        raise RuntimeError("forward failed")

    broken.model = fail
    executor = ThreadPoolExecutor(1)
    engine = StreamEngine(broken, executor)
    prompt = dialogue.prompt_ids([], "hi", 64)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="forward failed"):
            stream(engine, [prompt, prompt], Settings(), [StreamSink(emit=lambda _: None)] * 2)
        assert engine.running == 0 and not engine.pending
    executor.shutdown()


def test_streams_that_wait_for_a_row_are_the_queue_depth(dialogue):
    """With one row, a second stream waits in the queue until the first leaves: /metrics shows it."""
    from prometheus_client import REGISTRY

    def depth() -> float:
        return REGISTRY.get_sample_value("simplechat_queue_depth", {"model": "queue-probe"}) or 0.0

    executor = ThreadPoolExecutor(1)
    engine = StreamEngine(dialogue, executor, name="queue-probe", max_rows=1)
    seen: list[float] = []
    prompts = [dialogue.prompt_ids([], f"tell me about topic {i}", 40) for i in range(2)]
    settings = Settings(max_new_tokens=20, do_sample=True, temperature=3.0)
    try:
        stream(engine, prompts, settings, [StreamSink(emit=lambda _: seen.append(depth())) for _ in prompts], seed=3)
    finally:
        executor.shutdown()
    assert seen[0] == 1  # the first stream's first piece: the second one still waits
    assert depth() == 0  # both done: nothing waits


RETRY_MESSAGES = [
    "hi",
    "what are you doing today?",
    "that is funny",
    "zorp blenk quiv?",
    "purple elephants calculate my taxes",
    "??",
    "why",
    "I failed my test",
    "do you know any good books?",
    "what should I study first?",
]


@pytest.mark.parametrize("max_new_tokens", [3, 20, 40])
def test_a_retry_in_the_batch_finds_what_generate_beam_search_finds(dialogue, engine, monkeypatch, max_new_tokens):
    """Every reply retried (forced): the beams decoded as rows of the running batch, many retries
    side by side, give each prompt the reply generate(num_beams=RETRY_BEAMS) gives it alone."""
    from predictors.chatbot.generation import RETRY_BEAMS

    monkeypatch.setattr(StreamEngine, "_unsure", lambda self, row: row.eos or row.finish == "length")
    settings = Settings(max_new_tokens=max_new_tokens)
    prompts = [dialogue.prompt_ids([], m, max_new_tokens) for m in RETRY_MESSAGES]
    results = stream(engine, prompts, settings, [StreamSink(emit=lambda _: None) for _ in prompts])
    beams = 0
    for prompt, result in zip(prompts, results, strict=True):
        (reply,), (confidence,) = dialogue.decode([prompt], settings, beams=RETRY_BEAMS, score=True)
        assert result.replacement == dialogue.retried(reply, confidence)
        beams += result.replacement == reply
    assert beams >= 3, "every retry fell back: the beam replies themselves were not compared"
    assert engine.running == 0


def test_streams_decode_alike_while_retries_join_and_leave_the_batch(dialogue, engine, monkeypatch):
    """Long streams run on while short replies finish, are retried (their beams join the batch)
    and leave it, one stream joining after the beams: each long stream's text is the one it
    decodes alone, and each short one keeps what its beam retry alone finds."""
    from predictors.chatbot.generation import RETRY_BEAMS
    from predictors.chatbot.streaming import _BeamRow

    first, late = (dialogue.prompt_ids([], f"tell me about topic {i}", 200) for i in (4, 5))
    alone = [stream(engine, [p], SAMPLED, [StreamSink(emit=lambda _: None)], seed=21)[0] for p in (first, late)]
    shorts = [
        dialogue.prompt_ids([], m, 64) for m in ("that is funny", "what are you doing today?", "zorp blenk quiv?")
    ]
    # The shorts are retried whatever this machine's model answers them (which falls below the
    # gate depends on the trained weights, and those on the CPU that trained them).
    monkeypatch.setattr(
        StreamEngine, "_unsure", lambda self, row: row.job.prompt in shorts and (row.eos or row.finish == "length")
    )
    beams_beside_late: list[int] = []

    def late_is_here() -> bool:  # asked on the inference thread before each step
        beams_beside_late.append(sum(isinstance(row, _BeamRow) for row in engine.rows))
        return False

    async def scenario() -> list[StreamResult]:
        late_job = StreamJob(late, SAMPLED, StreamSink(emit=lambda _: None, cancelled=late_is_here), 21)
        late_task: list[asyncio.Future] = []
        pieces = [0]

        def on_first(_: str) -> None:  # on this loop: the late stream joins once the shorts ended
            pieces[0] += 1
            if pieces[0] == 12:
                late_task.append(asyncio.ensure_future(engine.submit([late_job])))

        jobs = [StreamJob(first, SAMPLED, StreamSink(emit=on_first), 21)]
        jobs += [StreamJob(p, Settings(), StreamSink(emit=lambda _: None)) for p in shorts]
        results = await engine.submit(jobs)
        return results + await late_task[0]

    results = asyncio.run(scenario())
    assert [results[0].text, results[4].text] == [a.text for a in alone]
    assert max(beams_beside_late) > 0, "no retry ran beside the late stream: nothing was tested"
    retried = [dialogue.decode([p], Settings(), beams=RETRY_BEAMS, score=True) for p in shorts]
    assert [r.replacement for r in results[1:4]] == [dialogue.retried(reply, c) for (reply,), (c,) in retried]


def test_a_retry_whose_client_leaves_ends_with_the_reply_as_decoded(dialogue, engine, monkeypatch):
    """The client goes while its reply's retry is decoding: the beams leave the batch and the
    caller gets its result (the streamed reply, no replacement), never a wait without end."""
    from predictors.chatbot.streaming import _BeamRow

    monkeypatch.setattr(StreamEngine, "_unsure", lambda self, row: row.eos or row.finish == "length")  # retried
    prompt = dialogue.prompt_ids([], "that is funny", 64)
    saw_beams: list[bool] = []

    def gone_once_retried() -> bool:  # asked on the inference thread: the client leaves during the retry
        saw_beams.append(any(isinstance(row, _BeamRow) for row in engine.rows))
        return saw_beams[-1]

    job = StreamJob(prompt, Settings(), StreamSink(emit=lambda _: None, cancelled=gone_once_retried))
    (result,) = asyncio.run(asyncio.wait_for(engine.submit([job]), timeout=30))
    assert any(saw_beams), "the retry never ran: nothing was tested"
    assert result.replacement is None and result.finish_reason == "stop" and result.text
    assert engine.running == 0
