"""The whole stack on one port, no cluster needed: both predictors with their seed routes.

    python -m predictors --models models --http_port 8080

The URL layout is the predictors' own (/v1/models/extractor:predict, /v1/models/chatbot:predict,
/extract-course-name/, /chat, /health), so every client and test works unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

from predictors.chatbot.model import Chatbot
from predictors.chatbot.routes import seed_router as chat_routes
from predictors.common.cli import build_parser
from predictors.common.server import run_predictor
from predictors.extractor.model import CourseExtractor
from predictors.extractor.routes import seed_router as extract_routes


def build(args):
    extractor = CourseExtractor("extractor", str(args.models / "extractor"), device=args.device,
                                max_batch_size=args.max_batch_size)
    chatbot = Chatbot("chatbot", str(args.models / "chatbot"), device=args.device, max_batch_size=args.max_batch_size)
    return [extractor, chatbot], [extract_routes(extractor), chat_routes(chatbot)]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(__doc__.splitlines()[0], model_name="")
    parser.add_argument("--models", type=Path, default=Path("models"),
                        help="Directory holding extractor/ and chatbot/ model dirs")
    return run_predictor(parser, build, argv, hint=" (run `make models`)")


if __name__ == "__main__":
    sys.exit(main())
