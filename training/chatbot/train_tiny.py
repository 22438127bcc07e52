"""Train a small DialoGPT-architecture GPT-2 on `chatterbot-corpus` and the project's dialogues.

    python -m training.chatbot.train_tiny --output-dir models/chatbot

The offline stand-in for `microsoft/DialoGPT-medium`: same format (turns joined by the EOS
token), same architecture family, same loading code. A byte-level BPE tokenizer is trained on
the dialogues with `tokenizers`. Writes safetensors, tokenizer, `model_card.json` (what the UI
and `GET /v1/models/chatbot` show) and `metrics.json`: for user turns 1-3, with the dialogue's
true history, the share of greedy replies that are a sentence of the training data, over the
corpus's greetings and conversations, the project's dialogues and the held-out dialogues
(paraphrased user turns, never trained on); and the held-out perplexity. Before measuring,
it chooses the reply gate (`reply_gate.json`, see generation.py) on the held-out part of the
training dialogues.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
import time
from pathlib import Path

import torch
from datasets import Dataset
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast, Trainer, TrainingArguments, set_seed

from predictors.chatbot.card import CARD_FILE, parameter_count
from predictors.chatbot.generation import FALLBACK_REPLY, GATE_FILE, RETRY_BEAMS, DialogueModel, Settings
from training import DATA_DIR
from training.chatbot.corpus import (
    PROBE_CATEGORIES,
    augmented,
    load_dialogues,
    normalize,
    probes,
    project_categories,
    sentences,
    training_dialogues,
    well_formed,
    with_lowercase_user_turns,
)

EOS = "<|endoftext|>"  # GPT-2/DialoGPT's only special token; it also separates turns
HELDOUT_DIR = DATA_DIR / "chat_heldout"
CARD_NAME = "simplechat-tiny-dialogpt"
GATE_GRID = [round(-1.0 + 0.05 * i, 2) for i in range(17)]  # mean token log-prob, -1.0 … -0.2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=Path("models/chatbot"))
    parser.add_argument("--epochs", type=float, default=1.0, help="epochs over everything: the corpus's language")
    parser.add_argument(
        "--tune-epochs",
        type=float,
        default=22.0,
        help="then epochs over what users say first: greetings, conversations and the project's dialogues",
    )
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after N steps (quick runs)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--augment", type=int, default=3, help="noisy copies of each opening dialogue in phase two (corpus.augmented)"
    )
    parser.add_argument(
        "--unfamiliar",
        type=float,
        default=0.15,
        help="share of the copies' user turns that become a jumble answered with corpus.UNSURE_REPLY",
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=0.2,
        help="in the copies, the chance of each user word to be dropped, and to be swapped",
    )
    parser.add_argument(
        "--replay", type=int, default=64, help="corpus conversations mixed into phase two, so the rest is not forgotten"
    )
    parser.add_argument("--tune-batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--vocab-size", type=int, default=4000)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-positions", type=int, default=256)
    parser.add_argument(
        "--dropout",
        type=float,
        default=0.0,
        help="GPT-2's dropouts; none by default: the demo bot should say its training "
        "sentences back, which dropout slows down a lot on a budget of minutes",
    )
    parser.add_argument(
        "--max-train-tokens",
        type=int,
        default=128,
        help="training sequences are cut here (the model's context stays --n-positions)",
    )
    parser.add_argument(
        "--heldout-every",
        type=int,
        default=20,
        help="every Nth conversation outside the probe files is held out for perplexity",
    )
    parser.add_argument(
        "--heldout-dir",
        type=Path,
        default=HELDOUT_DIR,
        help="held-out dialogues (*.yml, chatterbot format) measured, never trained on",
    )
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def train_tokenizer(texts: list[str], vocab_size: int) -> GPT2TokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return GPT2TokenizerFast(tokenizer_object=tokenizer, bos_token=EOS, eos_token=EOS, unk_token=EOS)


def encode(conversation: list[str], tokenizer: GPT2TokenizerFast, limit: int) -> dict[str, list[int]]:
    """DialoGPT's format (each turn + EOS); the loss is on the bot's turns (odd positions) only.

    The model never writes the user's turns, and with many phrasings per intent they are the
    least predictable tokens: learning them took most of a small model's capacity."""
    ids, labels = [], []
    for position, turn in enumerate(conversation):
        tokens = tokenizer.encode(turn) + [tokenizer.eos_token_id]
        ids += tokens
        labels += tokens if position % 2 else [-100] * len(tokens)
    return {"input_ids": ids[:limit], "labels": labels[:limit]}


def collate(features: list[dict]) -> dict[str, torch.Tensor]:
    """Right-pad; padding is masked out of attention and loss (EOS itself is learned)."""
    longest = max(len(f["input_ids"]) for f in features)
    ids = torch.zeros(len(features), longest, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for row, feature in enumerate(features):
        seq = torch.tensor(feature["input_ids"])
        ids[row, : len(seq)], mask[row, : len(seq)], labels[row, : len(seq)] = seq, 1, torch.tensor(feature["labels"])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def served_settings(dialogue: DialogueModel) -> Settings:
    """The served defaults, with a reply at most half the context long (only tiny test runs differ)."""
    return Settings(max_new_tokens=min(Settings.max_new_tokens, dialogue.context // 2))


def greedy_replies(dialogue: DialogueModel, pairs: list[tuple[list[str], str]], batch_size: int = 64) -> list[str]:
    """Greedy replies with the served defaults, batched as the predictor batches them."""
    settings, replies = served_settings(dialogue), []
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        replies += dialogue.generate([dialogue.prompt_ids(h, m, settings.max_new_tokens) for h, m in chunk], settings)
    return replies


def choose_gate(dialogue: DialogueModel, conversations: list[list[str]], known: set[str], batch_size: int = 64) -> dict:
    """The reply gate (generation.GATE_FILE) that makes the most replies well-formed on dialogues
    the model was not trained on, a fallback counting as a miss; the lowest such gate (fewest
    retries), and none when no gate does better than none."""
    settings = served_settings(dialogue)
    pairs = [pair for turn in probes(conversations) for pair in turn]
    prompts = [dialogue.prompt_ids(history, message, settings.max_new_tokens) for history, message in pairs]
    greedy, greedy_lp, beam, beam_lp = [], [], [], []
    for i in range(0, len(prompts), batch_size):
        replies, scores = dialogue.decode(prompts[i : i + batch_size], settings, score=True)
        greedy, greedy_lp = greedy + replies, greedy_lp + scores
        replies, scores = dialogue.decode(prompts[i : i + batch_size], settings, beams=RETRY_BEAMS, score=True)
        beam, beam_lp = beam + replies, beam_lp + scores

    def well_formed_with(gate: float) -> int:
        answers = [
            g if g_lp >= gate else b if b_lp >= gate else None
            for g, g_lp, b, b_lp in zip(greedy, greedy_lp, beam, beam_lp, strict=True)
        ]
        return sum(a is not None and normalize(a) in known for a in answers)

    ungated = well_formed_with(-math.inf)
    best = max(GATE_GRID, key=lambda gate: (well_formed_with(gate), -gate))
    chosen = best if well_formed_with(best) > ungated else None
    return {
        "min_mean_logprob": chosen,
        "replies": len(pairs),
        "well_formed_ungated": ungated,
        "well_formed_gated": well_formed_with(chosen if chosen is not None else -math.inf),
        "grid": [GATE_GRID[0], GATE_GRID[-1]],
    }


def _training_args(
    args: argparse.Namespace, scratch: str, epochs: float, batch_size: int, phase: int
) -> TrainingArguments:
    return TrainingArguments(
        output_dir=scratch,  # saves nothing, but the Trainer makes this dir
        num_train_epochs=epochs,
        max_steps=args.max_steps,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=64,
        learning_rate=args.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        weight_decay=0.01,
        eval_strategy="no",
        save_strategy="no",
        logging_steps=100,
        report_to="none",
        seed=args.seed + phase,
        data_seed=args.seed + phase,
        train_sampling_strategy="group_by_length",  # similar lengths per batch: less padding
    )


def split(dialogues: dict[str, list[list[str]]], heldout_every: int) -> tuple[list, list, list]:
    """(all training, what users say first, held out for perplexity). The conversations users
    open with are all trained on; every Nth of the others is held out."""
    train_convs, tune_convs, heldout_convs, position = [], [], [], 0
    project = set(project_categories())
    for category, conversations in dialogues.items():
        for conversation in conversations:
            position += 1
            if category in PROBE_CATEGORIES or category in project:
                tune_convs.append(conversation)
            elif position % heldout_every == 0:
                heldout_convs.append(conversation)
                continue
            train_convs.append(conversation)
    return train_convs, tune_convs, heldout_convs


def measure(
    dialogue: DialogueModel, dialogues: dict[str, list[list[str]]], known: set[str], heldout: dict[str, list[list[str]]]
) -> dict[str, dict]:
    def rates(conversations: list[list[str]]) -> dict:
        return well_formed(lambda pairs: greedy_replies(dialogue, pairs), conversations, known, fallback=FALLBACK_REPLY)

    return {
        "corpus": rates([c for k in PROBE_CATEGORIES for c in dialogues[k]]),
        "project": rates([c for k in project_categories() for c in dialogues[k]]),
        "heldout": rates([c for convs in heldout.values() for c in convs]),
    }


def train(args: argparse.Namespace) -> dict:
    set_seed(args.seed)
    dialogues = training_dialogues()
    heldout = load_dialogues(args.heldout_dir)
    if not heldout:
        raise SystemExit(f"{args.heldout_dir}: no held-out dialogues (*.yml)")
    train_convs, tune_convs, heldout_convs = split(dialogues, args.heldout_every)
    known = sentences({"train": train_convs})
    # The corpus's user turns are all capitalized; the project's dialogues already mix cases.
    project = {tuple(c) for category in project_categories() for c in dialogues[category]}
    train_convs += with_lowercase_user_turns([c for c in train_convs if tuple(c) not in project])
    tune_convs += with_lowercase_user_turns([c for c in tune_convs if tuple(c) not in project])

    tokenizer = train_tokenizer([turn for conv in train_convs for turn in conv], args.vocab_size)

    limit = min(args.max_train_tokens, args.n_positions)

    def dataset(conversations: list[list[str]]) -> Dataset:
        return Dataset.from_list([encode(c, tokenizer, limit) for c in conversations])

    replay = random.Random(args.seed).sample(train_convs, min(args.replay, len(train_convs)))
    tune = tune_convs + augmented(tune_convs, args.augment, args.seed, args.unfamiliar, args.noise) + replay
    train_ds, tune_ds = dataset(train_convs), dataset(tune)
    heldout_ds = Dataset.from_list([encode(c, tokenizer, args.n_positions) for c in heldout_convs])

    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=args.n_positions,
        n_embd=args.n_embd,
        n_layer=args.n_layer,
        n_head=args.n_head,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        resid_pdrop=args.dropout,
        embd_pdrop=args.dropout,
        attn_pdrop=args.dropout,
    )
    model = GPT2LMHeadModel(config)
    parameters = parameter_count(model)
    started = time.perf_counter()
    # Two phases: everything, then the dialogues users open with (plus a replay of the rest).
    # A model this small forgets the greetings among 2,000 tech-support answers unless they
    # come last, and forgets the rest if they come alone.
    # The Trainer creates its output_dir even when it saves nothing: a scratch dir, so nothing of
    # training is left beside the model.
    phases = ((train_ds, args.epochs, args.batch_size), (tune_ds, args.tune_epochs, args.tune_batch_size))
    with tempfile.TemporaryDirectory(prefix="simplechat-chatbot-") as scratch:
        trainer = None
        for phase, (data, epochs, batch_size) in enumerate(phases):
            trainer = Trainer(
                model=model,
                args=_training_args(args, scratch, epochs, batch_size, phase),
                train_dataset=data,
                data_collator=collate,
            )
            trainer.train()
        train_seconds = time.perf_counter() - started
        heldout_loss = trainer.evaluate(heldout_ds)["eval_loss"]

    args.output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.output_dir)  # safetensors
    tokenizer.save_pretrained(args.output_dir)
    card = {
        "name": CARD_NAME,
        "parameters": parameters,
        "offline_demo": True,
        "description": "a small DialoGPT-architecture model trained offline on chatterbot-corpus "
        "and the project's dialogues; the production model is microsoft/DialoGPT-medium",
    }
    (args.output_dir / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")

    # The gate is chosen on the held-out part of the training dialogues, with noisy copies for
    # users who word things differently; the held-out dialogue set is only measured.
    dev = heldout_convs + augmented(heldout_convs, 2, args.seed, noise=args.noise)
    gate = choose_gate(DialogueModel(args.output_dir, device="cpu"), dev, known)
    if gate["min_mean_logprob"] is not None:
        (args.output_dir / GATE_FILE).write_text(json.dumps(gate, indent=2) + "\n")
    saved = DialogueModel(args.output_dir, device="cpu")  # the saved dir, as the predictor loads it
    metrics = {
        "parameters": parameters,
        "train_conversations": len(train_ds),
        "tune_conversations": len(tune_ds),
        "heldout_conversations": len(heldout_ds),
        "train_seconds": round(train_seconds, 1),
        "heldout_perplexity": round(math.exp(heldout_loss), 2),
        "reply_gate": gate,
        "well_formed": measure(saved, dialogues, known, heldout),
    }
    (args.output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"training time: {train_seconds:.1f} s, {parameters / 1e6:.2f}M parameters, {len(train_ds)} conversations")
    print(f"held-out perplexity: {metrics['heldout_perplexity']}")
    print(
        f"reply gate (mean token log-prob, chosen on {gate['replies']} held-out training replies): "
        f"{gate['min_mean_logprob']}; well-formed there {gate['well_formed_ungated']} -> {gate['well_formed_gated']}"
    )
    print("greedy replies that are a sentence of the training data, by user turn (true history):")
    for name, turns in metrics["well_formed"].items():
        print(
            f"  {name:8}"
            + "".join(
                f"  turn {k[4:]}: {t['rate']:.0%} of {t['replies']} ({t['unsure']} unsure, "
                f"{t['fallback']} fallback, {t['empty']} empty)"
                for k, t in turns.items()
            )
        )
    return metrics


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
