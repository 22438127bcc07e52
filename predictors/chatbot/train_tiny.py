"""Train a small DialoGPT-architecture GPT-2 on the English dialogues of `chatterbot-corpus`.

    python -m predictors.chatbot.train_tiny --output-dir models/chatbot

The offline stand-in for `microsoft/DialoGPT-medium`: same format (turns joined by the EOS
token), same architecture family, same loading code. A byte-level BPE tokenizer is trained on
the corpus with `tokenizers`. Writes safetensors + tokenizer + metrics.json with the
learned-reply rate on the opening turns of `greetings` and `conversations`, and the held-out
perplexity.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import torch
from datasets import Dataset
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast, Trainer, TrainingArguments, set_seed

from predictors.chatbot.corpus import (
    PROBE_CATEGORIES,
    load_dialogues,
    probe_turns,
    replies,
    with_lowercase_user_turns,
)
from predictors.chatbot.generation import DialogueModel, PromptTooLong, Settings

EOS = "<|endoftext|>"  # GPT-2/DialoGPT's only special token; it also separates turns


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=Path("models/chatbot"))
    parser.add_argument("--epochs", type=float, default=4.0, help="epochs over the whole corpus")
    parser.add_argument("--tune-epochs", type=float, default=20.0,
                        help="then epochs over greetings + conversations: what users say first")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after N steps (quick runs)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tune-repeat", type=int, default=6, help="copies of each opening dialogue in phase two")
    parser.add_argument("--replay", type=int, default=192,
                        help="corpus conversations mixed into phase two, so the rest is not forgotten")
    parser.add_argument("--tune-batch-size", type=int, default=8, help="small: many updates on little data")
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--vocab-size", type=int, default=3000)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-positions", type=int, default=256)
    parser.add_argument("--max-train-tokens", type=int, default=128,
                        help="training sequences are cut here (the model's context stays --n-positions)")
    parser.add_argument("--heldout-every", type=int, default=20,
                        help="every Nth conversation outside the probe files is held out for perplexity")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def train_tokenizer(texts: list[str], vocab_size: int) -> GPT2TokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return GPT2TokenizerFast(tokenizer_object=tokenizer, bos_token=EOS, eos_token=EOS, unk_token=EOS)


def encode(conversation: list[str], tokenizer: GPT2TokenizerFast, limit: int) -> list[int]:
    ids = [token for turn in conversation for token in tokenizer.encode(turn) + [tokenizer.eos_token_id]]
    return ids[:limit]


def collate(features: list[dict]) -> dict[str, torch.Tensor]:
    """Right-pad; padding is masked out of attention and loss (EOS itself is learned)."""
    longest = max(len(f["input_ids"]) for f in features)
    ids = torch.zeros(len(features), longest, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for row, feature in enumerate(features):
        seq = torch.tensor(feature["input_ids"])
        ids[row, :len(seq)], mask[row, :len(seq)], labels[row, :len(seq)] = seq, 1, seq
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def learned_reply_rate(dialogue: DialogueModel, turns: list[str], known: dict[str, set[str]],
                       lower: bool) -> tuple[int, int]:
    """How many probe turns get, greedily, a reply the corpus gives to that turn."""
    hits = 0
    for turn in turns:
        try:
            reply = dialogue.reply([], turn.lower() if lower else turn, Settings(max_new_tokens=40))
        except PromptTooLong:  # only with a context far smaller than the default
            continue
        hits += " ".join(reply.split()) in known[turn]
    return hits, len(turns)


def _training_args(args: argparse.Namespace, epochs: float, batch_size: int, phase: int) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(args.output_dir / "checkpoints"),
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


def train(args: argparse.Namespace) -> dict:
    set_seed(args.seed)
    dialogues = load_dialogues()
    train_convs, tune_convs, heldout_convs, position = [], [], [], 0
    for category, conversations in dialogues.items():
        for conversation in conversations:
            position += 1
            if category in PROBE_CATEGORIES:
                tune_convs.append(conversation)
            elif position % args.heldout_every == 0:
                heldout_convs.append(conversation)
                continue
            train_convs.append(conversation)
    train_convs += with_lowercase_user_turns(train_convs)
    tune_convs += with_lowercase_user_turns(tune_convs)

    tokenizer = train_tokenizer([turn for conv in train_convs for turn in conv], args.vocab_size)

    limit = min(args.max_train_tokens, args.n_positions)

    def dataset(conversations: list[list[str]]) -> Dataset:
        return Dataset.from_dict({"input_ids": [encode(c, tokenizer, limit) for c in conversations]})

    replay = random.Random(args.seed).sample(train_convs, min(args.replay, len(train_convs)))
    train_ds, tune_ds = dataset(train_convs), dataset(tune_convs * args.tune_repeat + replay)
    heldout_ds = Dataset.from_dict({"input_ids": [encode(c, tokenizer, args.n_positions) for c in heldout_convs]})

    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=args.n_positions, n_embd=args.n_embd, n_layer=args.n_layer,
        n_head=args.n_head, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    parameters = sum(p.numel() for p in model.parameters())
    started = time.perf_counter()
    # Two phases: the whole corpus, then the dialogues users open with (plus a replay of the
    # corpus). A model this small forgets the greetings among 2,000 tech-support answers
    # unless they come last, and forgets the rest if they come alone.
    trainer = None
    phases = ((train_ds, args.epochs, args.batch_size), (tune_ds, args.tune_epochs, args.tune_batch_size))
    for phase, (data, epochs, batch_size) in enumerate(phases):
        trainer = Trainer(model=model, args=_training_args(args, epochs, batch_size, phase), train_dataset=data,
                          data_collator=collate)
        trainer.train()
    train_seconds = time.perf_counter() - started
    heldout_loss = trainer.evaluate(heldout_ds)["eval_loss"]

    args.output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.output_dir)  # safetensors
    tokenizer.save_pretrained(args.output_dir)

    known, probes = replies(dialogues), probe_turns(dialogues)
    saved = DialogueModel(args.output_dir, device="cpu")  # the saved dir, as the predictor loads it
    hits, total = learned_reply_rate(saved, probes, known, lower=False)
    lower_hits, _ = learned_reply_rate(saved, probes, known, lower=True)
    metrics = {
        "parameters": parameters,
        "train_conversations": len(train_ds),
        "tune_conversations": len(tune_ds),
        "heldout_conversations": len(heldout_ds),
        "train_seconds": round(train_seconds, 1),
        "heldout_perplexity": round(math.exp(heldout_loss), 2),
        "probe_turns": total,
        "learned_replies": hits,
        "learned_reply_rate": round(hits / total, 4),
        "lowercase_learned_replies": lower_hits,
        "lowercase_learned_reply_rate": round(lower_hits / total, 4),
    }
    (args.output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"training time: {train_seconds:.1f} s, {parameters / 1e6:.2f}M parameters, "
          f"{len(train_ds)} conversations")
    print(f"held-out perplexity: {metrics['heldout_perplexity']}")
    print(f"learned replies: {hits}/{total} = {hits / total:.0%} of the opening turns of "
          f"{' and '.join(PROBE_CATEGORIES)} (lower-cased: {lower_hits}/{total})")
    return metrics


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
