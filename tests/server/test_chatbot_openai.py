"""The OpenAI-compatible routes, driven by the official `openai` client against the predictor."""

from __future__ import annotations

import threading
import time

import httpx
import openai
import pytest
from transformers import AutoTokenizer

from tests.conftest import long_reply_arrivals
from training.chatbot.corpus import sentences, training_dialogues

GREEDY = {"model": "chatbot", "messages": [{"role": "user", "content": "how are you?"}], "temperature": 0}
LONG = {**GREEDY, "messages": [{"role": "user", "content": "you sound like yoda"}], "max_tokens": 150}
# Nonsense the tiny model has no answer to: which of them fall below its reply gate depends on
# the model a CPU trained, so the test takes the first that does.
NONSENSE = (
    "purple elephants calculate my taxes",
    "quantum toaster negotiates with the moon",
    "translate the silence of forks into jazz",
    "does the library smell like thunder",
    "why do carrots sing opera at midnight",
    "zebra protocol banana firmware",
)


@pytest.fixture(scope="module")
def client(chatbot) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{chatbot.url}/openai/v1", api_key="unused", max_retries=0, timeout=60)


def test_models_list_names_the_chatbot(client):
    assert [m.id for m in client.models.list()] == ["chatbot"]


def test_streamed_and_whole_replies_of_a_greedy_request_are_the_same(client):
    whole = client.chat.completions.create(**GREEDY)
    (choice,) = whole.choices
    assert choice.message.role == "assistant" and choice.finish_reason in ("stop", "length")
    assert choice.message.content in sentences(training_dialogues())
    assert whole.usage.prompt_tokens > 0 and whole.usage.completion_tokens > 0
    assert whole.usage.total_tokens == whole.usage.prompt_tokens + whole.usage.completion_tokens

    chunks = list(client.chat.completions.create(**GREEDY, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == choice.message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [choice.finish_reason]  # one finish_reason, on the last content chunk
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert len({c.id for c in chunks}) == 1


def test_a_streamed_reply_below_the_reply_gate_ends_with_its_replacement(client, chatbot_dir):
    """The tiny model gates its replies (generation.py): a stream shows the model's text as it
    comes, and its last chunk tells the client to show the guarded reply instead, the same as
    the whole completion's content. OpenAI's client keeps the extra key in `model_extra`. A reply
    that stands streams exactly the whole completion's text."""
    for message in NONSENSE:
        request = {**GREEDY, "messages": [{"role": "user", "content": message}]}
        completion = client.chat.completions.create(**request)
        whole = completion.choices[0].message.content
        chunks = list(client.chat.completions.create(**request, stream=True, stream_options={"include_usage": True}))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        extras = [c.model_extra.get("simplechat") for c in chunks if c.model_extra.get("simplechat")]
        if not extras:
            assert streamed == whole, message
            continue
        assert extras == [{"replace_content": whole}] and streamed != whole
        finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert finishes == ["stop"]  # on the last content chunk, with the replacement
        # usage counts the completion returned, the replacement, in both shapes of the answer
        tokens = len(AutoTokenizer.from_pretrained(chatbot_dir).encode(whole, add_special_tokens=False))
        assert completion.usage.completion_tokens == tokens == chunks[-1].usage.completion_tokens
        return
    pytest.fail("none of the nonsense messages fell below the reply gate")


def test_history_system_messages_and_stop_strings(client):
    history = [
        {"role": "system", "content": "You are terse."},  # DialoGPT has no system prompt: left out
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "how are you?"},
    ]
    reply = client.chat.completions.create(model="chatbot", messages=history, temperature=0)
    without_system = client.chat.completions.create(model="chatbot", messages=history[1:], temperature=0)
    assert reply.choices[0].message.content == without_system.choices[0].message.content
    full = reply.choices[0].message.content
    word = full.split()[1]
    cut = client.chat.completions.create(model="chatbot", messages=history, temperature=0, stop=[word])
    assert cut.choices[0].message.content == full[: full.index(word)]  # up to the stop string, as OpenAI
    assert cut.choices[0].finish_reason == "stop"


def test_max_tokens_ends_with_length(client):
    reply = client.chat.completions.create(**GREEDY, max_tokens=2)
    assert reply.choices[0].finish_reason == "length" and reply.usage.completion_tokens == 2


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": "x" * 5000}]}, "messages[0].content"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
        ({"n": 2}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": -1}, "temperature"),
    ],
)
def test_bad_requests_get_openai_400s(client, change, param):
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(**{**GREEDY, **change})
    assert error.value.status_code == 400
    assert error.value.body["param"] == param and error.value.body["type"] == "invalid_request_error"


def test_unknown_model_is_a_404_and_a_huge_body_a_413(client, chatbot):
    with pytest.raises(openai.NotFoundError) as error:
        client.chat.completions.create(**{**GREEDY, "model": "gpt-4o"})
    assert error.value.body["code"] == "model_not_found"
    response = httpx.post(f"{chatbot.url}/openai/v1/chat/completions", content=b" " * 70_000, timeout=30)
    assert response.status_code == 413 and set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_chunks_arrive_as_they_are_generated(chatbot):
    """Frames of one reply reach the client over time, not in one burst at the end."""
    arrivals = long_reply_arrivals(chatbot.url, min_frames=16)
    assert arrivals[-2] - arrivals[1] > 0.01  # first to last content frame: spread over the decoding


def test_a_client_that_leaves_mid_stream_leaves_the_server_serving(chatbot):
    long = {**LONG, "stream": True}
    for _ in range(3):
        with httpx.stream("POST", f"{chatbot.url}/openai/v1/chat/completions", json=long, timeout=60) as response:
            lines = response.iter_lines()
            next(lines), next(lines)  # two frames, then gone
    after = httpx.post(f"{chatbot.url}/openai/v1/chat/completions", json=GREEDY, timeout=60)
    assert after.status_code == 200 and after.json()["choices"][0]["message"]["content"]


def metric(base_url: str, name: str) -> float:
    """The value of one of our samples on /metrics (model="chatbot")."""
    for line in httpx.get(f"{base_url}/metrics", timeout=10).text.splitlines():
        if line.startswith(f'{name}{{model="chatbot"}} '):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not on /metrics")


def test_a_client_that_disconnects_frees_its_row_within_a_step(chatbot):
    """A long sampled generation (200 tokens) whose client leaves after a few frames: its row is
    out of the running batch and no more tokens are generated for it, long before the 200 would be."""
    body = {**GREEDY, "messages": [{"role": "user", "content": "tell me about topic 3"}], "temperature": 2.0}
    body.update(max_tokens=200, stream=True, seed=3)
    url = f"{chatbot.url}/openai/v1/chat/completions"
    before = metric(chatbot.url, "simplechat_generated_tokens_total")
    with httpx.stream("POST", url, json=body, timeout=60) as response:
        lines = response.iter_lines()
        frames = [next(lines) for _ in range(12)]  # data lines and the blank lines between them
        assert metric(chatbot.url, "simplechat_stream_sequences_running") == 1
        left = time.monotonic()
    assert sum(f.startswith("data: {") for f in frames) >= 5
    while metric(chatbot.url, "simplechat_stream_sequences_running") != 0:
        assert time.monotonic() - left < 2, "the row stayed in the running batch after its client left"
        time.sleep(0.01)
    generated = metric(chatbot.url, "simplechat_generated_tokens_total") - before
    time.sleep(0.3)
    assert metric(chatbot.url, "simplechat_generated_tokens_total") - before == generated  # nothing more
    assert generated < 100  # of the 200 asked for


def test_the_v1_route_is_untouched_while_streams_run(chatbot):
    results = []

    def stream_one():
        with httpx.stream(
            "POST", f"{chatbot.url}/openai/v1/chat/completions", json={**GREEDY, "stream": True}, timeout=60
        ) as r:
            results.append(sum(1 for _ in r.iter_lines()))

    threads = [threading.Thread(target=stream_one) for _ in range(4)]
    for t in threads:
        t.start()
    v1 = httpx.post(
        f"{chatbot.url}/v1/models/chatbot:predict", json={"instances": [{"message": "how are you?"}]}, timeout=60
    )
    for t in threads:
        t.join()
    assert v1.status_code == 200 and len(results) == 4 and all(n > 2 for n in results)
