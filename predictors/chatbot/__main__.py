"""python -m predictors.chatbot --model_name chatbot --model_dir DIR [--http_port N]"""

from __future__ import annotations

import sys

from predictors.chatbot.model import Chatbot
from predictors.chatbot.openai_routes import openai_router
from predictors.chatbot.routes import card_router, seed_router
from predictors.chatbot.schema import DEFAULT_MAX_MESSAGE_CHARS
from predictors.common.cli import add_ray_arguments, build_parser, runtime_options
from predictors.common.kserve_server import run_predictor


def build(args):
    if args.ray:  # the same V1/V2 API, the model in Ray Serve replicas (no seed routes)
        from predictors import ray_app

        return [ray_app.deploy("chatbot", args, {"max_message_chars": args.max_message_chars})], []
    model = Chatbot(
        args.model_name,
        args.model_dir,
        device=args.device,
        max_batch_size=args.max_batch_size,
        max_message_chars=args.max_message_chars,
        model_id=args.model_id,
        runtime=runtime_options(args),
    )
    return [model], [card_router(model), seed_router(model), openai_router(model)]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser("DialoGPT chatbot (KServe custom predictor)", model_name="chatbot")
    parser.add_argument(
        "--max_message_chars",
        type=int,
        default=DEFAULT_MAX_MESSAGE_CHARS,
        help="Longest message (and history turn) accepted",
    )
    parser.add_argument(
        "--model_id",
        default=None,
        help="The model's hub id (microsoft/DialoGPT-medium), shown to users when the "
        "model dir carries no model_card.json",
    )
    add_ray_arguments(parser)
    return run_predictor(parser, build, argv)


if __name__ == "__main__":
    sys.exit(main())
