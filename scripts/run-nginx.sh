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

# The same file the cluster ships, rendered with this machine's upstreams. The explicit list
# keeps nginx's own $variables out of envsubst's reach.
NGINX_LISTEN="$HOST:$PORT" UI_ROOT="$ROOT/frontend" \
CHATBOT_UPSTREAM="127.0.0.1:$CHATBOT_PORT" EXTRACTOR_UPSTREAM="127.0.0.1:$EXTRACTOR_PORT" \
TRUSTED_PROXY_CIDR="127.0.0.1/32" \
  envsubst '${NGINX_LISTEN} ${UI_ROOT} ${CHATBOT_UPSTREAM} ${EXTRACTOR_UPSTREAM} ${TRUSTED_PROXY_CIDR}' \
  < "$ROOT/frontend/nginx.conf" > "$WORK/simplechat.conf"

# A minimal main config around it: the http context the official image also provides.
cat > "$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
    include $MIME_TYPES;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path $WORK/client_body;
    proxy_temp_path $WORK/proxy;
    fastcgi_temp_path $WORK/fastcgi;
    uwsgi_temp_path $WORK/uwsgi;
    scgi_temp_path $WORK/scgi;
    include $WORK/simplechat.conf;
}
EOF
"$NGINX" -t -q -p "$WORK" -c "$WORK/nginx.conf" || die "nginx -t failed on the rendered frontend/nginx.conf"

start_predictor() {  # name port
  HF_HUB_OFFLINE=1 "$PYTHON" -m "predictors.$1" --model_dir "$MODELS/$1" --host 127.0.0.1 --http_port "$2" &
  pids+=($!)
}
start_predictor chatbot "$CHATBOT_PORT"
start_predictor extractor "$EXTRACTOR_PORT"
"$NGINX" -p "$WORK" -c "$WORK/nginx.conf" -g 'daemon off;' &
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
