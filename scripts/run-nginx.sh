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

# A predictor, started again whenever it exits (as the kubelet restarts a container), so what
# nginx does while one is down can be seen here. Its output is prefixed with its name; its own
# `serving`/`ready:` lines are dropped: the one ready line is this script's, below.
supervise() {  # name port
  local name=$1 port=$2 child=""
  trap '[[ -n $child ]] && kill -TERM "$child" 2>/dev/null; wait; exit 0' TERM INT
  while true; do
    HF_HUB_OFFLINE=1 "$PYTHON" -m "predictors.$name" --model_dir "$MODELS/$name" --host 127.0.0.1 \
      --http_port "$port" > >(sed -u -e '/^ready: /d' -e '/^serving /d' -e "s/^/[$name] /") 2>&1 &
    child=$!
    local status=0
    wait "$child" || status=$?
    echo "run-nginx: $name exited with status $status; starting it again" >&2
    sleep 1
  done
}

wait_for() {  # url what: until it answers 200, while every process lives
  until curl -sf -o /dev/null "$1"; do
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || die "a process exited before $2 was ready"; done
    ((SECONDS < deadline)) || die "$2 not ready after ${READY_TIMEOUT}s"
    sleep 0.5
  done
}

deadline=$((SECONDS + READY_TIMEOUT))
supervise chatbot "$CHATBOT_PORT" &
pids+=($!)
supervise extractor "$EXTRACTOR_PORT" &
pids+=($!)
# nginx starts once both answer, so its log does not fill with refused connections meanwhile.
wait_for "http://127.0.0.1:$CHATBOT_PORT/v1/models/chatbot" chatbot
wait_for "http://127.0.0.1:$EXTRACTOR_PORT/v1/models/extractor" extractor
# The ui image's entrypoint, with this machine's upstreams and paths.
NGINX_BIN="$NGINX" NGINX_LISTEN="$HOST:$PORT" UI_ROOT="$WORK/html" \
CHATBOT_UPSTREAM="127.0.0.1:$CHATBOT_PORT" EXTRACTOR_UPSTREAM="127.0.0.1:$EXTRACTOR_PORT" \
TRUSTED_PROXY_CIDR="127.0.0.1/32" NGINX_TEMPLATE="$ROOT/frontend/nginx.conf" NGINX_RUN_DIR="$WORK/run" \
NGINX_MIME_TYPES="$MIME_TYPES" NGINX_ACCESS_LOG=off \
  "$ROOT/frontend/nginx-entrypoint.sh" &
pids+=($!)
for name in chatbot extractor; do
  wait_for "http://$HOST:$PORT/api/v1/models/$name" "$name through nginx"
done
echo "ready: UI and /api on http://$HOST:$PORT through nginx (Ctrl-C stops)"

# nginx ending ends the stack (a predictor is started again by its supervisor).
set +e
wait -n "${pids[@]}"
status=$?
set -e
echo "run-nginx: a process exited with status $status; stopping" >&2
exit "$status"
