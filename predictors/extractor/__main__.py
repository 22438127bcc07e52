"""python -m predictors.extractor --model_name extractor --model_dir DIR [--http_port N]"""

from __future__ import annotations

import sys

from predictors.common.cli import add_ray_arguments, build_parser, runtime_options
from predictors.common.kserve_server import run_predictor
from predictors.extractor.model import BACKENDS, CourseExtractor
from predictors.extractor.onnx_tagger import ONNX_FILE
from predictors.extractor.routes import seed_router
from predictors.extractor.schema import DEFAULT_MAX_TEXT_CHARS


def build(args):
    if args.ray:  # the same V1/V2 API, the model in Ray Serve replicas (no seed routes)
        from predictors import ray_app

        return [ray_app.deploy("extractor", args, {"max_text_chars": args.max_text_chars})], []
    model = CourseExtractor(
        args.model_name,
        args.model_dir,
        device=args.device,
        max_batch_size=args.max_batch_size,
        max_text_chars=args.max_text_chars,
        runtime=runtime_options(args),
        backend=args.runtime,
    )
    return [model], [seed_router(model)]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser("Course-name extractor (KServe custom predictor)", model_name="extractor")
    parser.add_argument(
        "--max_text_chars", type=int, default=DEFAULT_MAX_TEXT_CHARS, help="Longest text accepted per instance"
    )
    parser.add_argument(
        "--runtime",
        choices=BACKENDS,
        default="auto",
        help="onnx: ONNX Runtime on the int8 export (no torch); torch: the transformers pipeline; "
        f"auto: onnx when the model dir has {ONNX_FILE} and ONNX Runtime runs on --device, else torch",
    )
    add_ray_arguments(parser)
    return run_predictor(parser, build, argv)


if __name__ == "__main__":
    sys.exit(main())
