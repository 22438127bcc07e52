"""The fixed, seeded inputs every mode sees: ~32-word sentences naming a course, short chat messages."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

SEED = 20240601
SENTENCE_WORDS = 32
CHAT_MAX_NEW_TOKENS = 20

COURSES = (
    "Linear Algebra",
    "Organic Chemistry",
    "Introduction to Computer Science",
    "Operating Systems",
    "Machine Learning",
    "Microeconomics",
    "Calculus II",
    "Data Structures and Algorithms",
    "Modern European History",
    "Cell Biology",
    "Quantum Mechanics",
    "Creative Writing",
    "Probability and Statistics",
    "Database Systems",
    "Introduction to Psychology",
    "Thermodynamics",
)
OPENINGS = (
    "Last semester my roommate and I both signed up for {course} because",
    "According to the advisor, students who finish {course} early usually find that",
    "I am honestly not sure whether {course} is worth the effort, but",
    "The department announced that {course} will move to the afternoon slot, so",
)
CLAUSES = (
    "the lectures were long but the weekly problem sets really helped",
    "most of us met in the library every Thursday evening",
    "the final project felt fair to everyone in our study group",
    "the professor posted clear notes after each class",
    "I still had to ask the teaching assistant for extra help",
    "the midterm covered far more material than anyone expected",
    "several friends said it changed how they think about their major",
)
MESSAGES = (
    "hi",
    "how are you?",
    "what is your name?",
    "tell me a joke",
    "do you like music?",
    "what are you doing today?",
    "good morning",
    "where do you live?",
    "i am bored",
    "what is your favorite food?",
    "can you help me?",
    "thank you",
    "see you later",
    "do you like movies?",
    "what time is it?",
    "that is funny",
)


def sentences(count: int = 64, seed: int = SEED) -> list[str]:
    """`count` different sentences of SENTENCE_WORDS words, each naming one course."""
    rng = random.Random(seed)
    result: list[str] = []
    while len(result) < count:
        opening = rng.choice(OPENINGS).format(course=rng.choice(COURSES))
        words = opening.split()
        for clause in rng.sample(CLAUSES, len(CLAUSES)):  # no clause twice in a sentence
            words += f"{clause} and".split()
        sentence = " ".join(words[:SENTENCE_WORDS]).removesuffix(" and") + "."
        if sentence not in result:
            result.append(sentence)
    return result


def messages() -> list[str]:
    return list(MESSAGES)


def extractor_body(text: str) -> dict:
    return {"instances": [{"text": text}]}


def chatbot_body(message: str) -> dict:
    return {"instances": [{"message": message, "max_new_tokens": CHAT_MAX_NEW_TOKENS}]}


def bodies(model: str) -> list[dict]:
    """The V1 request bodies for `model`, one instance each, cycled by the load generator."""
    if model == "extractor":
        return [extractor_body(text) for text in sentences()]
    return [chatbot_body(message) for message in messages()]


def stream_bodies() -> list[dict]:
    """The same messages for the chatbot's streamed OpenAI route, with the same reply limit."""
    return [
        {
            "model": "chatbot",
            "messages": [{"role": "user", "content": message}],
            "max_tokens": CHAT_MAX_NEW_TOKENS,
            "stream": True,
        }
        for message in messages()
    ]


def reply_tokens(model_dir: str) -> Callable[[str], int]:
    """Tokens of a reply text, by the model's own tokenizer: one count for streamed and whole replies."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def v1_reply_tokens(model_dir: str) -> Callable[[bytes], int]:
    count = reply_tokens(model_dir)
    return lambda body: count(json.loads(body)["predictions"][0]["response"])
