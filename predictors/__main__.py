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
from predictors.common.model_dir import ModelDirError, check_model_dir
from predictors.common.server import serve
from predictors.extractor.model import CourseExtractor
from predictors.extractor.routes import seed_router as extract_routes


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(__doc__.splitlines()[0], model_name="")
    parser.add_argument("--models", type=Path, default=Path("models"),
                        help="Directory holding extractor/ and chatbot/ model dirs")
    args = parser.parse_args(argv)
    extractor_dir, chatbot_dir = args.models / "extractor", args.models / "chatbot"
    try:
        check_model_dir(extractor_dir)
        check_model_dir(chatbot_dir)
    except ModelDirError as exc:
        print(f"error: {exc} (run `make models`)", file=sys.stderr)
        return 2
    extractor = CourseExtractor("extractor", str(extractor_dir), device=args.device,
                                max_batch_size=args.max_batch_size)
    chatbot = Chatbot("chatbot", str(chatbot_dir), device=args.device, max_batch_size=args.max_batch_size)
    print(f"simplechat: http://{args.host}:{args.http_port}  (Ctrl-C stops)", flush=True)
    return serve([extractor, chatbot], args, routers=[extract_routes(extractor), chat_routes(chatbot)])


if __name__ == "__main__":
    sys.exit(main())
