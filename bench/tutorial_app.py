"""The baseline: a plain FastAPI app the way the tutorials serve a model (see the seeds).

    python bench/tutorial_app.py --model extractor|chatbot --model_dir DIR --port PORT

One sync (`def`) endpoint; FastAPI runs it in its threadpool, one forward per request, no
batching. It speaks the predictors' V1 path and body shape so the same load generator hits it:
POST /v1/models/<name>:predict and readiness on GET /v1/models/<name>.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline


class PredictRequest(BaseModel):
    instances: list[dict]


def extractor(model_dir: str) -> Callable[[dict], dict]:
    ner = pipeline("token-classification", model=model_dir, aggregation_strategy="first", device="cpu")

    def predict(instance: dict) -> dict:
        text = instance["text"]
        return {
            "courses": [
                {
                    "text": text[e["start"] : e["end"]],
                    "start": int(e["start"]),
                    "end": int(e["end"]),
                    "score": round(float(e["score"]), 4),
                }
                for e in ner(text)
            ]
        }

    return predict


def chatbot(model_dir: str) -> Callable[[dict], dict]:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()

    def predict(instance: dict) -> dict:
        prompt = tokenizer.encode(instance["message"] + tokenizer.eos_token, return_tensors="pt")
        with torch.inference_mode():
            output = model.generate(
                prompt,
                attention_mask=torch.ones_like(prompt),
                max_new_tokens=instance.get("max_new_tokens", 40),
                min_new_tokens=1,  # the predictor's settings, so both do the same work
                do_sample=False,
                pad_token_id=tokenizer.eos_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        reply = tokenizer.decode(output[0, prompt.shape[1] :], skip_special_tokens=True).strip()
        return {"response": reply}

    return predict


def build_app(name: str, predict: Callable[[dict], dict]) -> FastAPI:
    app = FastAPI(title=f"tutorial-style {name}")

    @app.get(f"/v1/models/{name}")
    def ready() -> dict:
        return {"name": name, "ready": True}  # the model loaded before the app was built

    @app.post(f"/v1/models/{name}:predict")
    def predict_route(request: PredictRequest) -> dict:
        return {"predictions": [predict(instance) for instance in request.instances]}

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("extractor", "chatbot"), required=True)
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    load = extractor if args.model == "extractor" else chatbot
    uvicorn.run(build_app(args.model, load(args.model_dir)), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
