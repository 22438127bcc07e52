#!/bin/sh
# Start nginx with frontend/nginx.conf rendered from the environment. The ui image's entrypoint,
# and what scripts/run-nginx.sh runs, so the cluster and the tests start nginx the same way.
# POSIX sh: the official nginx images are Alpine (no bash). Writes only to NGINX_RUN_DIR, so the
# container runs with a read-only root filesystem.
set -eu

: "${CHATBOT_UPSTREAM:?set CHATBOT_UPSTREAM to host:port of the chatbot predictor}"
: "${EXTRACTOR_UPSTREAM:?set EXTRACTOR_UPSTREAM to host:port of the extractor predictor}"
export CHATBOT_UPSTREAM EXTRACTOR_UPSTREAM
export NGINX_LISTEN="${NGINX_LISTEN:-8080}"
export UI_ROOT="${UI_ROOT:-/usr/share/nginx/html}"
export TRUSTED_PROXY_CIDR="${TRUSTED_PROXY_CIDR:-10.0.0.0/8}"
TEMPLATE="${NGINX_TEMPLATE:-/etc/nginx/templates/simplechat.conf.template}"
RUN_DIR="${NGINX_RUN_DIR:-/tmp/nginx}"
MIME_TYPES="${NGINX_MIME_TYPES:-/etc/nginx/mime.types}"
ACCESS_LOG="${NGINX_ACCESS_LOG:-/dev/stdout}"
NGINX="${NGINX_BIN:-nginx}"

mkdir -p "$RUN_DIR"
# The explicit list keeps nginx's own $variables out of envsubst's reach (hence single quotes).
# shellcheck disable=SC2016
envsubst '${NGINX_LISTEN} ${UI_ROOT} ${CHATBOT_UPSTREAM} ${EXTRACTOR_UPSTREAM} ${TRUSTED_PROXY_CIDR}' \
  < "$TEMPLATE" > "$RUN_DIR/simplechat.conf"

# The http context around it, every path under RUN_DIR (the image's default nginx.conf would
# write to /var and /run).
cat > "$RUN_DIR/nginx.conf" <<CONF
worker_processes 1;
pid $RUN_DIR/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
    include $MIME_TYPES;
    default_type application/octet-stream;
    access_log $ACCESS_LOG;
    sendfile on;
    client_body_temp_path $RUN_DIR/client_body;
    proxy_temp_path $RUN_DIR/proxy;
    fastcgi_temp_path $RUN_DIR/fastcgi;
    uwsgi_temp_path $RUN_DIR/uwsgi;
    scgi_temp_path $RUN_DIR/scgi;
    include $RUN_DIR/simplechat.conf;
}
CONF

"$NGINX" -e stderr -t -q -c "$RUN_DIR/nginx.conf"
exec "$NGINX" -e stderr -c "$RUN_DIR/nginx.conf" -g 'daemon off;'
