#!/usr/bin/env bash
# Delete the kind cluster made by scripts/kind-up.sh (and everything in it). Idempotent: no
# cluster, nothing to do.
#
#   scripts/kind-down.sh
#   CLUSTER=other scripts/kind-down.sh
set -euo pipefail
[[ "${DEBUG:-0}" == 1 ]] && set -x

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

detect_engine  # kind needs to know whether its nodes are docker or podman containers
require_cmd kind "install kind $KIND_VERSION: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"

if cluster_exists; then
  log "deleting cluster $CLUSTER"
  kind delete cluster --name "$CLUSTER"
else
  log "no kind cluster named $CLUSTER: nothing to delete"
fi
