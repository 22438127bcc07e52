"""python -m predictors.chatbot --model_name chatbot --model_dir DIR [--http_port N]"""

from __future__ import annotations

import sys

from predictors.chatbot.model import Chatbot
from predictors.chatbot.routes import seed_router
from predictors.chatbot.schema import DEFAULT_MAX_MESSAGE_CHARS
from predictors.common.cli import build_parser
from predictors.common.model_dir import ModelDirError, check_model_dir
from predictors.common.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = build_parser("DialoGPT chatbot (KServe custom predictor)", model_name="chatbot")
    parser.add_argument("--max_message_chars", type=int, default=DEFAULT_MAX_MESSAGE_CHARS,
                        help="Longest message (and history turn) accepted")
    args = parser.parse_args(argv)
    try:
        check_model_dir(args.model_dir)  # fail fast, before the port opens
    except ModelDirError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model = Chatbot(args.model_name, args.model_dir, device=args.device,
                    max_batch_size=args.max_batch_size, max_message_chars=args.max_message_chars)
    return serve([model], args, routers=[seed_router(model)])


if __name__ == "__main__":
    sys.exit(main())
