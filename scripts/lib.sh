# shellcheck shell=bash
# Shared helpers for the kind scripts (kind-up.sh, kind-down.sh): pinned versions, messages,
# prerequisite checks. Sourced, never run: `source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`.
#
# The manifest URLs are only fetched by kubectl on a machine with internet access. Bump a version
# here and nowhere else (kind-config.yaml repeats the node image; kind-up.sh checks they agree).

# Kubernetes 1.33 node image built for kind v0.29.0 (its release notes); the digest pins the exact image.
KIND_VERSION=v0.29.0
KIND_NODE_IMAGE=kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f
# KServe >= 0.15 asks for cert-manager >= 1.15 (its webhook certificates).
CERT_MANAGER_VERSION=v1.18.2
# 0.16 is the first release where the raw mode is called Standard. kind-up.sh, and CI's download of
# the InferenceService CRD for the chart tests (KSERVE_CRD_URL), both take this one.
KSERVE_VERSION=v0.16.0
# ingress-nginx was retired in March 2026 (no further releases or fixes). 1.15.1 (March 2026) is
# the newest and supports Kubernetes 1.31-1.35 (the support table in its README), so the 1.33
# node above; controller-v1.12.x stopped at 1.32. The kind provider manifest: hostPort 80/443 on
# the node labelled ingress-ready=true.
INGRESS_NGINX_VERSION=controller-v1.15.1

INGRESS_NGINX_URL=https://raw.githubusercontent.com/kubernetes/ingress-nginx/$INGRESS_NGINX_VERSION/deploy/static/provider/kind/deploy.yaml
CERT_MANAGER_URL=https://github.com/cert-manager/cert-manager/releases/download/$CERT_MANAGER_VERSION/cert-manager.yaml
KSERVE_URL=https://github.com/kserve/kserve/releases/download/$KSERVE_VERSION/kserve.yaml
KSERVE_CLUSTER_RESOURCES_URL=https://github.com/kserve/kserve/releases/download/$KSERVE_VERSION/kserve-cluster-resources.yaml
# The InferenceService CRD at the KServe tag, for tests/chart (CI points SIMPLECHAT_KSERVE_CRD at
# it). The checksum is of that file at the tag: bumping KSERVE_VERSION fails CI until it is updated.
KSERVE_CRD_URL=https://raw.githubusercontent.com/kserve/kserve/$KSERVE_VERSION/config/crd/full/serving.kserve.io_inferenceservices.yaml
KSERVE_CRD_SHA256=7b57068f8bb0baa394c14bef83421a53a7be8e13335c31a4e55e32d9f549adb0
export KIND_VERSION KIND_NODE_IMAGE CERT_MANAGER_VERSION KSERVE_VERSION INGRESS_NGINX_VERSION
export INGRESS_NGINX_URL CERT_MANAGER_URL KSERVE_URL KSERVE_CLUSTER_RESOURCES_URL KSERVE_CRD_URL KSERVE_CRD_SHA256

# shellcheck disable=SC2034  # used by the scripts that source this file; not exported, as each
# script finds its own root
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLUSTER=${CLUSTER:-simplechat}
# kind names the kubeconfig context after the cluster; every command names it, so a re-run
# never acts on whatever cluster happens to be the current context.
KUBE_CONTEXT=kind-$CLUSTER
export CLUSTER KUBE_CONTEXT

# Messages carry the script's name, so a line in a long CI log says where it came from.
_script=$(basename "$0" .sh)
log() { printf '%s: %s\n' "$_script" "$*" >&2; }
die() { printf '%s: error: %s\n' "$_script" "$*" >&2; exit 1; }

# require_cmd CMD HINT — stop early with a way to get CMD rather than fail halfway through.
require_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found — $2"
}

# detect_engine — set ENGINE to docker or podman (honouring ENGINE when already set). kind
# drives podman only when told to, so KIND_EXPERIMENTAL_PROVIDER follows the engine.
detect_engine() {
  if [[ -z "${ENGINE:-}" ]]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then ENGINE=docker
    elif command -v podman >/dev/null 2>&1; then ENGINE=podman
    else die "neither a running docker nor podman found — install one: https://docs.docker.com/engine/install/ or https://podman.io/docs/installation"
    fi
  fi
  case $ENGINE in
    docker) ;;
    podman) export KIND_EXPERIMENTAL_PROVIDER=podman ;;
    *) die "ENGINE must be docker or podman, not '$ENGINE'" ;;
  esac
  export ENGINE
}

# cluster_exists — true when kind knows a cluster named $CLUSTER.
cluster_exists() {
  # grep without -q reads all of kind's output: an early exit could SIGPIPE kind and, with pipefail, fail the test.
  kind get clusters 2>/dev/null | grep -x -- "$CLUSTER" >/dev/null
}

# kc ARGS... — kubectl against this cluster only.
kc() { kubectl --context "$KUBE_CONTEXT" "$@"; }

# retry ATTEMPTS DELAY CMD... — for a step that races a webhook which is Available but not yet
# serving (cert-manager's, KServe's): the first apply after an install can be refused.
retry() {
  local attempts=$1 delay=$2 n=1
  shift 2
  until "$@"; do
    ((n++ < attempts)) || return 1
    log "retrying in ${delay}s (attempt $n of $attempts): $*"
    sleep "$delay"
  done
}
