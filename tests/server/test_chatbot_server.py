"""The chatbot predictor over real HTTP on loopback: V1, V2, seed routes, batching, errors."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from kserve import InferenceRESTClient, RESTConfig

from tests.conftest import ROOT, assert_ready_answers_during, running_with
from training.chatbot.corpus import sentences, training_dialogues


def predict(chatbot, *instances, timeout=120) -> httpx.Response:
    return httpx.post(f"{chatbot.url}/v1/models/chatbot:predict", json={"instances": list(instances)}, timeout=timeout)


def replies(chatbot, *instances) -> list[str]:
    response = predict(chatbot, *instances)
    assert response.status_code == 200, response.text
    return [p["response"] for p in response.json()["predictions"]]


def test_v1_reply_and_history(chatbot):
    response = predict(chatbot, {"message": "hi"})
    assert response.status_code == 200, response.text
    (prediction,) = response.json()["predictions"]
    assert prediction["response"].strip()
    assert "<|endoftext|>" not in prediction["response"]
    assert prediction["history"] == ["hi", prediction["response"]]


def test_what_a_new_user_types_first_gets_a_sentence_of_the_training_data(chatbot):
    # Lower case, as people type: the first-contact transcript ended in word salad.
    known = sentences(training_dialogues())
    for message in ("hi", "how are you?", "what is your name?", "do you like music?"):
        (reply,) = replies(chatbot, {"message": message})
        assert reply in known, (message, reply)


def test_follow_up_uses_the_history(chatbot):
    # Properties, not exact replies: the tiny model is retrained by each build. Every reply is a
    # sentence of the training data, the history comes back with the new turns, and the third
    # turn of a corpus dialogue is answered differently with its history than without it.
    known = sentences(training_dialogues())
    first = predict(chatbot, {"message": "Good morning, how are you?"}).json()["predictions"][0]
    assert first["response"] in known
    history = ["Good morning, how are you?", "I am doing well, how about you?"]
    follow = predict(chatbot, {"message": "I'm also good.", "history": history}).json()["predictions"][0]
    assert follow["response"] in known
    assert follow["history"] == [*history, "I'm also good.", follow["response"]]
    alone = replies(chatbot, {"message": "I'm also good."})[0]
    assert alone != follow["response"]


def test_greedy_is_reproducible_and_the_server_keeps_no_state(chatbot):
    instance = {"message": "What are your hobbies?", "history": ["Hello", "Hi"]}
    assert replies(chatbot, instance) == replies(chatbot, instance) == replies(chatbot, instance)


def test_batched_greedy_equals_single_requests(chatbot):
    instances = [
        {"message": "Hello"},
        {"message": "What is your favorite book?", "history": ["Hi", "Hello"]},
        {"message": "Who are you?"},
        {"message": "Do you like football?"},
    ]
    assert replies(chatbot, *instances) == [replies(chatbot, i)[0] for i in instances]


def test_concurrent_requests_with_mixed_settings_each_get_their_own_reply(chatbot):
    """Concurrent callers share generate calls (greedy with greedy, sampled apart): every greedy
    caller gets the reply it gets alone, and a one-token request stays one token."""
    greedy = [{"message": m} for m in ("Hello", "Who are you?", "Do you like football?", "What is AI?")] * 3
    short = [{"message": "Tell me a joke", "max_new_tokens": 1}] * 4
    alone = {i["message"]: replies(chatbot, i)[0] for i in greedy[:4]}
    with ThreadPoolExecutor(max_workers=16) as pool:
        together = list(pool.map(lambda inst: replies(chatbot, inst)[0], greedy + short))
    assert together[:12] == [alone[i["message"]] for i in greedy]
    assert all(len(r.split()) <= 1 for r in together[12:])


def test_mixed_settings_in_one_request(chatbot):
    greedy = {"message": "How are you doing?"}
    sampled = {
        "message": "How are you doing?",
        "do_sample": True,
        "temperature": 0.7,
        "top_p": 0.9,
        "max_new_tokens": 10,
    }
    short = {"message": "Tell me a joke", "max_new_tokens": 1}
    out = replies(chatbot, greedy, sampled, short)
    assert out[0] == replies(chatbot, greedy)[0]
    assert all(r.strip() for r in out[:2])
    assert len(out[2].split()) <= 1


def test_generation_stops_at_eos(chatbot, chatbot_dir):
    from transformers import AutoTokenizer

    reply = replies(chatbot, {"message": "Hello", "max_new_tokens": 200})[0]
    tokens = AutoTokenizer.from_pretrained(chatbot_dir).encode(reply)
    assert 0 < len(tokens) < 50


def test_long_history_is_trimmed_not_refused(chatbot):
    history = [f"turn {i}: " + "blah " * 60 for i in range(60)]
    response = predict(chatbot, {"message": "How are you?", "history": history})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["history"][:60] == history


def test_a_message_too_long_for_the_context_is_a_400(chatbot):
    response = predict(chatbot, {"message": "word " * 390})
    assert response.status_code == 400, response.text
    assert "tokens" in response.json()["error"]


@pytest.mark.parametrize(
    ("instance", "field"),
    [
        ({"message": ""}, "message is empty"),
        ({"message": "hi", "max_new_tokens": 300}, "max_new_tokens"),
        ({"message": "hi", "temperature": 0}, "temperature"),
        ({"message": "hi", "top_p": 2}, "top_p"),
        ({"message": ["hi"]}, "message"),
    ],
)
def test_bad_instances_are_400(chatbot, instance, field):
    response = predict(chatbot, instance)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]


@pytest.mark.parametrize("body", [b"nope", b'{"instances": {}}', b'{"inputs": []}', b'{"instances": []}'])
def test_bad_bodies_are_400(chatbot, body):
    response = httpx.post(
        f"{chatbot.url}/v1/models/chatbot:predict",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]


def test_v2_infer(chatbot):
    body = {
        "id": "conv-1",
        "inputs": [{"name": "message", "shape": [2], "datatype": "BYTES", "data": ["Hello", "how are you?"]}],
    }
    response = httpx.post(f"{chatbot.url}/v2/models/chatbot/infer", json=body, timeout=120)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["id"] == "conv-1"
    (output,) = result["outputs"]
    assert output["name"] == "response" and output["shape"] == [2]
    assert output["data"] == replies(chatbot, {"message": "Hello"}, {"message": "how are you?"})


def test_v2_bad_input_is_400(chatbot):
    body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["Hello"]}]}
    response = httpx.post(f"{chatbot.url}/v2/models/chatbot/infer", json=body)
    assert response.status_code == 400 and '"message"' in response.json()["error"]


def test_seed_routes(chatbot):
    assert httpx.get(f"{chatbot.url}/health").json() == {"status": "healthy"}
    # The tutorial's curl: a bare -d body, no content type.
    first = httpx.post(f"{chatbot.url}/chat", content=b'{"message": "hi", "max_length": 100}', timeout=120)
    assert first.status_code == 200, first.text
    data = first.json()
    assert data["response"].strip()
    follow = httpx.post(
        f"{chatbot.url}/chat", json={"message": "how are you?", "history": data["history"]}, timeout=120
    ).json()
    assert follow["response"].strip()
    assert follow["history"] == [*data["history"], "how are you?", follow["response"]]


@pytest.mark.parametrize(
    "body", [{}, {"message": ""}, {"message": "hi", "max_length": 0}, {"message": "hi", "max_length": "long"}]
)
def test_seed_chat_errors_are_http_errors(chatbot, body):
    response = httpx.post(f"{chatbot.url}/chat", json=body)
    assert response.status_code == 400, response.text
    assert "error" in response.json() and "response" not in response.json()


def test_kserve_sdk_client(chatbot):
    async def call():
        client = InferenceRESTClient(RESTConfig(protocol="v1", retries=1, timeout=120))
        try:
            return await client.infer(chatbot.url, {"instances": [{"message": "Hello"}]}, model_name="chatbot")
        finally:
            await client._client.aclose()

    assert asyncio.run(call())["predictions"][0]["response"] == replies(chatbot, {"message": "Hello"})[0]


def test_readiness_carries_the_model_card(chatbot, chatbot_dir):
    body = httpx.get(f"{chatbot.url}/v1/models/chatbot").json()
    card = json.loads((chatbot_dir / "model_card.json").read_text())
    assert body == {"name": "chatbot", "ready": True, "model": card}
    assert card["offline_demo"] is True and card["parameters"] > 1_000_000
    # The SDK's other readiness routes are untouched.
    assert httpx.get(f"{chatbot.url}/v2/models/chatbot/ready").json() == {"name": "chatbot", "ready": True}


@pytest.mark.slow
def test_health_answers_during_generation(chatbot_dir):
    # A hot sampling temperature keeps EOS unlikely, so every reply runs long: tens of seconds of
    # work on 2 cores (more on a busy machine), hence a server of its own with a long deadline.
    batch = [
        {
            "message": f"Tell me about topic {i}",
            "max_new_tokens": 200,
            "history": ["hi"] * 20,
            "do_sample": True,
            "temperature": 5.0,
        }
        for i in range(48)
    ]
    server = running_with("predictors.chatbot", "chatbot", chatbot_dir, "--request_timeout_s", "600")
    predictor = next(server)
    try:
        assert_ready_answers_during(predictor, lambda: predict(predictor, *batch, timeout=600).status_code)
    finally:
        server.close()  # stops the process


def test_terminal_chat(chatbot_dir):
    result = subprocess.run(
        [sys.executable, "-m", "predictors.chatbot.repl", "--model_dir", str(chatbot_dir), "--device", "cpu"],
        input="how are you?\nquit\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "Type 'quit' to exit" in result.stdout
    (reply,) = [line.split("Bot: ", 1)[1] for line in result.stdout.splitlines() if "Bot: " in line]
    assert reply in sentences(training_dialogues())


def test_missing_model_dir_fails_fast(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "predictors.chatbot",
            "--model_dir",
            str(tmp_path / "x"),
            "--host",
            "127.0.0.1",
            "--http_port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode != 0 and "does not exist" in result.stderr
