#!/bin/sh
# Start nginx with frontend/nginx.conf rendered from the environment. The ui image's entrypoint,
# and what scripts/run-nginx.sh runs, so the cluster and the tests start nginx the same way.
# POSIX sh: the official nginx images are Alpine (no bash). Writes only to NGINX_RUN_DIR, so the
# container runs with a read-only root filesystem.
#
# CHATBOT_UPSTREAM / EXTRACTOR_UPSTREAM: host:port of a predictor; empty or unset: that model is
# not deployed, its routes are left out (its /api routes answer a JSON 404). Names are looked up
# per request by the DNS servers of NGINX_RESOLV_CONF (/etc/resolv.conf), or NGINX_RESOLVER
# ("address[:port] ..."), so they need not exist yet when nginx starts.
set -eu

CHATBOT_UPSTREAM="${CHATBOT_UPSTREAM:-}"
EXTRACTOR_UPSTREAM="${EXTRACTOR_UPSTREAM:-}"
export CHATBOT_UPSTREAM EXTRACTOR_UPSTREAM
export NGINX_LISTEN="${NGINX_LISTEN:-8080}"
export UI_ROOT="${UI_ROOT:-/usr/share/nginx/html}"
export TRUSTED_PROXY_CIDR="${TRUSTED_PROXY_CIDR:-10.0.0.0/8}"
# Short: a recreated Service's new address is picked up within this, and so is a new Service.
export NGINX_RESOLVER_VALID="${NGINX_RESOLVER_VALID:-10s}"
export NGINX_RESOLVER_TIMEOUT="${NGINX_RESOLVER_TIMEOUT:-5s}"
RESOLV_CONF="${NGINX_RESOLV_CONF:-/etc/resolv.conf}"
TEMPLATE="${NGINX_TEMPLATE:-/etc/nginx/templates/simplechat.conf.template}"
RUN_DIR="${NGINX_RUN_DIR:-/tmp/nginx}"
MIME_TYPES="${NGINX_MIME_TYPES:-/etc/nginx/mime.types}"
ACCESS_LOG="${NGINX_ACCESS_LOG:-/dev/stdout}"
NGINX="${NGINX_BIN:-nginx}"

die() { echo "nginx-entrypoint: $*" >&2; exit 1; }

# nginx does not read resolv.conf: hand it the pod's DNS server(s). IPv6 addresses go in
# brackets; link-local ones with a %zone are skipped (nginx cannot parse them).
nameservers() {
  [ -r "$RESOLV_CONF" ] || return 0
  awk '$1 == "nameserver" && $2 !~ /%/ { print (index($2, ":") ? "[" $2 "]" : $2) }' "$RESOLV_CONF" \
    | tr '\n' ' '
}
if [ -z "${NGINX_RESOLVER:-}" ]; then
  NGINX_RESOLVER=$(nameservers)
  NGINX_RESOLVER="${NGINX_RESOLVER% }"
fi
[ -n "$NGINX_RESOLVER" ] ||
  die "no nameserver in $RESOLV_CONF: nginx needs one to look up the predictors (or set NGINX_RESOLVER)"
export NGINX_RESOLVER

# nginx's resolver sends names as written (no search path): a bare Service name would not resolve
# in Kubernetes. Warn, but go on: Docker's DNS (compose) answers bare names.
for upstream in "$CHATBOT_UPSTREAM" "$EXTRACTOR_UPSTREAM"; do
  host="${upstream%:*}"
  case "$host" in
    ''|*.*|\[*) ;;
    *) echo "nginx-entrypoint: warning: $host is not fully qualified; nginx resolves it as written" >&2 ;;
  esac
done

mkdir -p "$RUN_DIR"
# The explicit list keeps nginx's own $variables out of envsubst's reach (hence single quotes).
# shellcheck disable=SC2016
envsubst '${NGINX_LISTEN} ${UI_ROOT} ${CHATBOT_UPSTREAM} ${EXTRACTOR_UPSTREAM} ${TRUSTED_PROXY_CIDR} ${NGINX_RESOLVER} ${NGINX_RESOLVER_VALID} ${NGINX_RESOLVER_TIMEOUT}' \
  < "$TEMPLATE" > "$RUN_DIR/simplechat.conf.rendered"
# A model without an upstream is not deployed: drop its routes, so nothing points at it.
set -- -e ''
[ -n "$CHATBOT_UPSTREAM" ] || set -- "$@" -e '/# >>> chatbot routes/,/# <<< chatbot routes/d'
[ -n "$EXTRACTOR_UPSTREAM" ] || set -- "$@" -e '/# >>> extractor routes/,/# <<< extractor routes/d'
sed "$@" "$RUN_DIR/simplechat.conf.rendered" > "$RUN_DIR/simplechat.conf"
rm "$RUN_DIR/simplechat.conf.rendered"

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
