"""The chatbot's forward without weights: which instances share one generate() call."""

from __future__ import annotations

from predictors.chatbot.generation import Settings
from predictors.chatbot.model import Chatbot
from predictors.chatbot.schema import ChatInstance


class Recording:
    def __init__(self) -> None:
        self.calls: list[tuple[int, Settings]] = []

    def generate(self, prompts, settings):
        self.calls.append((len(prompts), settings))
        return [f"reply {p[0]}" for p in prompts]


def instance(**fields) -> ChatInstance:
    return ChatInstance.model_validate({"message": "hi", **fields}, context={"max_message_chars": 100})


def test_greedy_requests_that_differ_only_in_sampling_knobs_share_one_call():
    bot = Chatbot("chatbot", "unused")
    bot.dialogue = Recording()
    pairs = [
        ([1], instance()),
        ([2], instance(temperature=0.3)),
        ([3], instance(top_p=0.5)),
        ([4], instance(do_sample=True, temperature=0.7)),
        ([5], instance(do_sample=True, temperature=0.9)),
    ]
    assert bot.generate(pairs) == ["reply 1", "reply 2", "reply 3", "reply 4", "reply 5"]  # each its own, in order
    sizes = sorted(n for n, _ in bot.dialogue.calls)
    assert sizes == [1, 1, 3]  # the three greedy ones together; sampled ones keep their temperature
    (greedy,) = [s for n, s in bot.dialogue.calls if n == 3]
    assert greedy == Settings()
