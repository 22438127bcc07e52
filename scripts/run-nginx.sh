#!/usr/bin/env bash
# The two standalone predictors behind real nginx with frontend/nginx.conf — the cluster's layout
# on one machine. Ctrl-C (or SIGTERM) stops all three.
#
#   scripts/run-nginx.sh                       # UI + /api on http://127.0.0.1:8080
#   PORT=9000 MODELS=models scripts/run-nginx.sh
#
# Environment: PORT (8080), HOST (127.0.0.1), CHATBOT_PORT / EXTRACTOR_PORT (PORT+1 / PORT+2),
# MODELS (models), PYTHON (.venv/bin/python), READY_TIMEOUT seconds (180).
set -euo pipefail
[[ "${DEBUG:-0}" == 1 ]] && set -x

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PORT=${PORT:-8080}
HOST=${HOST:-127.0.0.1}
CHATBOT_PORT=${CHATBOT_PORT:-$((PORT + 1))}
EXTRACTOR_PORT=${EXTRACTOR_PORT:-$((PORT + 2))}
MODELS=${MODELS:-$ROOT/models}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
READY_TIMEOUT=${READY_TIMEOUT:-180}

die() { echo "run-nginx: $*" >&2; exit 1; }

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x "$NGINX" ]] || die "nginx not found — run scripts/install-system-deps.sh nginx"
command -v envsubst >/dev/null || die "envsubst not found — run scripts/install-system-deps.sh envsubst"
command -v curl >/dev/null || die "curl not found — install curl"
[[ -x "$PYTHON" ]] || die "$PYTHON not found — run make install"
for name in chatbot extractor; do
  [[ -f "$MODELS/$name/config.json" ]] || die "$MODELS/$name is missing — run make models"
done
MIME_TYPES=$(dirname "$("$NGINX" -V 2>&1 | grep -o -- '--conf-path=[^ ]*' | cut -d= -f2)")/mime.types
[[ -f "$MIME_TYPES" ]] || die "nginx's mime.types not found at $MIME_TYPES"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/simplechat-nginx.XXXXXX")
chmod 755 "$WORK"  # nginx workers drop root privileges and must still read their config
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 0' INT TERM  # a requested stop is a clean exit; EXIT then stops the children

# Only the UI's files are served, as in the ui image (not nginx.conf or the entrypoint).
mkdir "$WORK/html"
cp "$ROOT"/frontend/{index.html,app.js,styles.css,favicon.svg} "$WORK/html/"
chmod -R a+rX "$WORK/html"

start_predictor() {  # name port
  HF_HUB_OFFLINE=1 "$PYTHON" -m "predictors.$1" --model_dir "$MODELS/$1" --host 127.0.0.1 --http_port "$2" &
  pids+=($!)
}
start_predictor chatbot "$CHATBOT_PORT"
start_predictor extractor "$EXTRACTOR_PORT"
# The ui image's entrypoint, with this machine's upstreams and paths.
NGINX_BIN="$NGINX" NGINX_LISTEN="$HOST:$PORT" UI_ROOT="$WORK/html" \
CHATBOT_UPSTREAM="127.0.0.1:$CHATBOT_PORT" EXTRACTOR_UPSTREAM="127.0.0.1:$EXTRACTOR_PORT" \
TRUSTED_PROXY_CIDR="127.0.0.1/32" NGINX_TEMPLATE="$ROOT/frontend/nginx.conf" NGINX_RUN_DIR="$WORK/run" \
NGINX_MIME_TYPES="$MIME_TYPES" NGINX_ACCESS_LOG=off \
  "$ROOT/frontend/nginx-entrypoint.sh" &
pids+=($!)

deadline=$((SECONDS + READY_TIMEOUT))
for name in chatbot extractor; do
  until curl -sf -o /dev/null "http://$HOST:$PORT/api/v1/models/$name"; do
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || die "a process exited before $name was ready"; done
    ((SECONDS < deadline)) || die "$name not ready after ${READY_TIMEOUT}s"
    sleep 0.5
  done
done
echo "ready: UI and /api on http://$HOST:$PORT through nginx (Ctrl-C stops)"

# Whichever process ends first ends the stack.
set +e
wait -n "${pids[@]}"
status=$?
set -e
echo "run-nginx: a process exited with status $status; stopping" >&2
exit "$status"
