#!/usr/bin/env bash
# The end-to-end smoke suite (tests/e2e) against a running install, through its ingress: waits
# until both InferenceServices and the UI are ready, then calls the models, the seed routes and
# the UI page over HTTP.
#
#   scripts/smoke.sh http://localhost                   # after scripts/kind-up.sh
#   scripts/smoke.sh http://localhost:8080              # after kind-up.sh under rootless podman
#   scripts/smoke.sh https://chat.example.com -k e2e    # extra arguments go to pytest
#
# Environment: PYTHON (.venv/bin/python), SIMPLECHAT_NAMESPACE (simplechat), SIMPLECHAT_RELEASE
# (simplechat), SIMPLECHAT_KUBE_CONTEXT (the current context), SIMPLECHAT_READY_TIMEOUT (900 s).
set -euo pipefail
[[ "${DEBUG:-0}" == 1 ]] && set -x

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}

die() { echo "smoke: $*" >&2; exit 1; }

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
  echo "usage: scripts/smoke.sh URL [pytest args...]   e.g. scripts/smoke.sh http://localhost" >&2
  echo "URL is where the ingress answers: the UI at URL/, the models under URL/api/" >&2
  exit 2
fi
url=${1%/}
shift
[[ $url =~ ^https?://[^/]+ ]] || die "URL must start with http:// or https://, not '$url'"
[[ -x "$PYTHON" ]] || die "$PYTHON not found — run make install (or set PYTHON)"

cd "$ROOT"
# The URL goes both ways: the option for a direct run, the variable for conftest loading orders
# where pytest never sees tests/e2e's option. SIMPLECHAT_E2E_REQUIRED turns "no cluster" from a
# skip into a failure: a smoke run that tested nothing must not pass.
export SIMPLECHAT_INGRESS_URL=$url SIMPLECHAT_E2E_REQUIRED=1
exec "$PYTHON" -m pytest tests/e2e -m e2e --ingress-url "$url" "$@"
