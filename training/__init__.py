"""Data generation, training and evaluation of the two offline models (not part of the served package).

    python -m training.extractor.train --output-dir models/extractor
    python -m training.chatbot.train_tiny --output-dir models/chatbot

Runs from the repository root (or any directory holding `training/` and `predictors/`); the
wheel and the serving images carry `predictors` only. The evaluation data is in `data/`.
"""

from pathlib import Path

#: Evaluation data: realistic_courses.jsonl, realtext/{dev,test}.txt and chat_heldout/*.yml.
DATA_DIR = Path(__file__).resolve().parent / "data"
