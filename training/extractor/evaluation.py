"""Entity-level scores of the extractor as served: exact character spans, per genre.

    python -m training.extractor.evaluation --model-dir models/extractor --split dev --errors

Scoring goes through the served path (`inference.extract`: pipeline, span trimming, score
threshold), so a figure here is what a user of the API gets. A predicted span counts when its
start and end equal a labelled span's; a prediction equal to an *optional* span (a code right
next to its title, docs/annotation.md) is neither rewarded nor counted as wrong.
The labelled files use a markup a person can read and edit: `genre<TAB>text`, each course
wrapped as `[[name]]`, each optional code as `[[?code]]`.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from training import DATA_DIR
from training.extractor.dataset import Example

REALTEXT = DATA_DIR / "realtext"  # dev.txt (for choices) and test.txt (reported)
MARK = re.compile(r"\[\[(\?)?(.+?)\]\]")

Span = tuple[int, int]
Extract = Callable[[list[str]], list[list[Span]]]


def parse_markup(line: str) -> Example:
    """One `genre<TAB>text` line with [[course]] and [[?optional]] marks -> an Example."""
    genre, _, marked = line.partition("\t")
    if not marked:
        raise ValueError(f"no genre<TAB>text in {line!r}")
    text, spans, optional, cursor = [], [], [], 0
    length = 0
    for match in MARK.finditer(marked):
        before = marked[cursor : match.start()]
        text.append(before)
        length += len(before)
        name = match.group(2)
        (optional if match.group(1) else spans).append((length, length + len(name)))
        text.append(name)
        length += len(name)
        cursor = match.end()
    text.append(marked[cursor:])
    plain = "".join(text)
    if "[[" in plain or "]]" in plain:
        raise ValueError(f"unbalanced marks in {line!r}")
    return Example(plain, tuple(spans), genre=genre.strip(), optional=tuple(optional))


def load_markup(path: Path) -> list[Example]:
    examples = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            examples.append(parse_markup(line))
        except ValueError as error:
            raise ValueError(f"{path}:{line_no}: {error}") from None
    return examples


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    negatives: int = 0
    clean_negatives: int = 0  # negatives with no span returned
    sentences: int = 0

    def add(self, gold: set[Span], optional: set[Span], predicted: set[Span]) -> None:
        predicted = predicted - optional
        self.tp += len(predicted & gold)
        self.fp += len(predicted - gold)
        self.fn += len(gold - predicted)
        self.sentences += 1
        if not gold:
            self.negatives += 1
            self.clean_negatives += not predicted

    def scores(self) -> dict[str, float | int]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result: dict[str, float | int] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "sentences": self.sentences,
        }
        if self.negatives:
            result["negatives_clean"] = round(self.clean_negatives / self.negatives, 4)
        return result


def score(examples: Sequence[Example], predicted: Sequence[Iterable[Span]]) -> dict:
    """{"overall": {...}, "genres": {genre: {...}}} with precision, recall, F1 and, where a part
    has negatives, the share of them that got no span."""
    overall, genres = Counts(), defaultdict(Counts)
    for example, spans in zip(examples, predicted, strict=True):
        found = set(spans)
        for counts in (overall, genres[example.genre or "all"]):
            counts.add(set(example.spans), set(example.optional), found)
    return {"overall": overall.scores(), "genres": {g: c.scores() for g, c in sorted(genres.items())}}


def mistakes(examples: Sequence[Example], predicted: Sequence[Iterable[Span]]) -> list[str]:
    """One line per wrong or missed span, for a person reading the dev errors."""
    lines = []
    for example, spans in zip(examples, predicted, strict=True):
        found = set(spans) - set(example.optional)
        gold = set(example.spans)
        for kind, wrong in (("FP", found - gold), ("FN", gold - found)):
            for start, end in sorted(wrong):
                lines.append(f"{kind} [{example.genre}] {example.text[start:end]!r} in {example.text!r}")
    return lines


def predict_spans(extract: Callable, texts: list[str], batch_size: int = 32) -> list[list]:
    """`extract(texts) -> [[CourseSpan]]` over `texts` in batches of `batch_size`."""
    spans = []
    for i in range(0, len(texts), batch_size):
        spans.extend(extract(texts[i : i + batch_size]))
    return spans


def above(predicted: Sequence[Iterable], threshold: float = 0.0) -> list[list[Span]]:
    """The (start, end) pairs of the spans scoring at least `threshold`, as the server keeps them."""
    return [[(s.start, s.end) for s in spans if s.score >= threshold] for spans in predicted]


def main(argv: list[str] | None = None) -> None:
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from predictors.common.model_dir import check_model_dir
    from predictors.extractor.inference import build_pipeline, extract

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=Path("models/extractor"))
    parser.add_argument("--split", default="dev", help="dev, test, or a path to a markup file")
    parser.add_argument("--threshold", type=float, default=None, help="override the model's span threshold")
    parser.add_argument("--errors", action="store_true", help="print every wrong and missed span")
    args = parser.parse_args(argv)

    path = Path(args.split) if args.split not in ("dev", "test") else REALTEXT / f"{args.split}.txt"
    examples = load_markup(path)
    model_dir = check_model_dir(args.model_dir)  # a local dir with safetensors: nothing is downloaded
    tagger = build_pipeline(
        AutoModelForTokenClassification.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir)
    )
    predicted = above(predict_spans(lambda texts: extract(tagger, texts, args.threshold), [e.text for e in examples]))
    if args.errors:
        print("\n".join(mistakes(examples, predicted)))
    print(json.dumps(score(examples, predicted), indent=2))


if __name__ == "__main__":
    main()
