"""The whole stack on one port, no cluster needed: both predictors, their seed routes and the UI.

    python -m predictors --models models --http_port 8080

The URLs are the cluster's (what frontend/nginx.conf routes): the UI at /, the models under /api
(/api/v1/models/chatbot:predict, /api/chat, ...). The predictors' own paths (/v1/models/..., /chat)
answer too, so a client of a standalone predictor works unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

from predictors.chatbot.model import Chatbot
from predictors.chatbot.openai_routes import openai_router
from predictors.chatbot.routes import card_router
from predictors.chatbot.routes import seed_router as chat_routes
from predictors.common.cli import build_parser, runtime_options
from predictors.common.kserve_server import run_predictor
from predictors.extractor.model import CourseExtractor
from predictors.extractor.routes import seed_router as extract_routes
from predictors.ui import FRONTEND, add_ui


def build(args):
    options = {"device": args.device, "max_batch_size": args.max_batch_size, "runtime": runtime_options(args)}
    extractor = CourseExtractor("extractor", str(args.models / "extractor"), **options)
    chatbot = Chatbot("chatbot", str(args.models / "chatbot"), **options)
    ui = [] if args.no_ui else [lambda app: add_ui(app, args.frontend)]
    return (
        [extractor, chatbot],
        [extract_routes(extractor), card_router(chatbot), chat_routes(chatbot), openai_router(chatbot)],
        ui,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(__doc__.splitlines()[0], model_name="")
    parser.add_argument(
        "--models", type=Path, default=Path("models"), help="Directory holding extractor/ and chatbot/ model dirs"
    )
    parser.add_argument("--frontend", type=Path, default=FRONTEND, help="Directory of the UI's static files")
    parser.add_argument("--no-ui", action="store_true", help="Serve the models only")
    return run_predictor(parser, build, argv, hint=" (run `make models`)")


if __name__ == "__main__":
    sys.exit(main())
