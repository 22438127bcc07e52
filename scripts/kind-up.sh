#!/usr/bin/env bash
# A local cluster running simplechat end to end: kind + ingress-nginx + cert-manager + KServe
# (Standard mode), the three images built and `kind load`ed, the Helm chart installed, then the
# smoke suite through the ingress on http://localhost. Safe to re-run: each step does only what
# is missing.
#
#   scripts/kind-up.sh                        # cluster "simplechat", release "simplechat"
#   DEBUG=1 scripts/kind-up.sh                # trace every command
#   VERSION=0.1.0-dev2 scripts/kind-up.sh     # new image tag, so running pods pick up a rebuild
#
# Environment: CLUSTER (simplechat), RELEASE (simplechat), NAMESPACE (simplechat),
# ENGINE (docker|podman; default: whichever is present), VERSION (pyproject's), PYTHON (python3,
# edits KServe's JSON settings), SKIP_SMOKE=1 (stop after the install).
# Pinned versions: scripts/lib.sh.
set -euo pipefail
[[ "${DEBUG:-0}" == 1 ]] && set -x

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RELEASE=${RELEASE:-simplechat}
NAMESPACE=${NAMESPACE:-simplechat}
PYTHON=${PYTHON:-python3}
CONFIG=$ROOT/scripts/kind-config.yaml
VERSION=${VERSION:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml")}
export VERSION  # build-images.sh tags with it
IMAGES=(chatbot extractor ui)

# --- prerequisites: all checked before anything is created -------------------------------------
detect_engine
require_cmd kind "install kind $KIND_VERSION: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
require_cmd kubectl "install kubectl: https://kubernetes.io/docs/tasks/tools/"
require_cmd helm "install helm 3: https://helm.sh/docs/intro/install/"
require_cmd make "install make (apt-get install make)"
require_cmd "$PYTHON" "install Python 3 (or set PYTHON)"
[[ -n $VERSION ]] || die "no version in pyproject.toml — set VERSION"
grep -qF "image: $KIND_NODE_IMAGE" "$CONFIG" \
  || die "scripts/kind-config.yaml does not pin $KIND_NODE_IMAGE (scripts/lib.sh): make them agree"

# --- cluster ------------------------------------------------------------------------------------
if cluster_exists; then
  log "cluster $CLUSTER exists: reusing it"
else
  log "creating cluster $CLUSTER ($KIND_NODE_IMAGE)"
  kind create cluster --name "$CLUSTER" --config "$CONFIG" --wait 180s
fi
kc cluster-info >/dev/null || die "cluster $CLUSTER exists but its API does not answer — scripts/kind-down.sh, then retry"

# --- ingress-nginx ------------------------------------------------------------------------------
if kc get deployment -n ingress-nginx ingress-nginx-controller >/dev/null 2>&1; then
  log "ingress-nginx present: skipping install"
else
  log "installing ingress-nginx $INGRESS_NGINX_VERSION"
  kc apply -f "$INGRESS_NGINX_URL"
fi
# Its admission webhook rejects every Ingress until the controller is up: wait before the chart.
kc wait -n ingress-nginx --for=condition=Available deployment/ingress-nginx-controller --timeout=300s

# --- cert-manager (issues KServe's webhook certificates) ----------------------------------------
if kc get deployment -n cert-manager cert-manager-webhook >/dev/null 2>&1; then
  log "cert-manager present: skipping install"
else
  log "installing cert-manager $CERT_MANAGER_VERSION"
  kc apply -f "$CERT_MANAGER_URL"
fi
kc wait -n cert-manager --for=condition=Available deployment --all --timeout=300s

# --- KServe -------------------------------------------------------------------------------------
if kc get crd inferenceservices.serving.kserve.io >/dev/null 2>&1 \
   && kc get deployment -n kserve kserve-controller-manager >/dev/null 2>&1; then
  log "KServe present: skipping install"
else
  log "installing KServe $KSERVE_VERSION"
  # Server-side: the InferenceService CRD is too large for client-side apply's annotation.
  retry 5 15 kc apply --server-side --force-conflicts -f "$KSERVE_URL"
fi
kc wait -n kserve --for=condition=Available deployment/kserve-controller-manager --timeout=300s
if [[ -n $(kc get clusterservingruntimes -o name 2>/dev/null) ]]; then
  log "KServe cluster resources present: skipping"
else
  retry 5 15 kc apply --server-side --force-conflicts -f "$KSERVE_CLUSTER_RESOURCES_URL"
fi

# KServe installs with Knative (Serverless) as the default mode and ingress class istio; this
# cluster has neither. Standard makes plain Deployments + Services (the chart also annotates each
# InferenceService), and class nginx gives KServe's own per-model Ingress a controller that exists.
# Each setting is a JSON document inside the ConfigMap: only the named fields change, the rest stay.
patch=$(kc get configmap inferenceservice-config -n kserve -o json | "$PYTHON" -c '
import json, sys
data = json.load(sys.stdin).get("data", {})
want = {"deploy": {"defaultDeploymentMode": "Standard"}, "ingress": {"ingressClassName": "nginx"}}
changed = {}
for key, fields in want.items():
    value = json.loads(data.get(key) or "{}")
    if any(value.get(k) != v for k, v in fields.items()):
        changed[key] = json.dumps({**value, **fields}, indent=2)
print(json.dumps({"data": changed}) if changed else "")
')
if [[ -n $patch ]]; then
  log "setting KServe defaults: deployment mode Standard, ingress class nginx"
  kc patch configmap inferenceservice-config -n kserve --type merge -p "$patch"
  # Restarted so no cached copy of the old defaults survives in the controller or its webhook.
  kc rollout restart deployment/kserve-controller-manager -n kserve
  kc rollout status deployment/kserve-controller-manager -n kserve --timeout=300s
else
  log "KServe defaults already Standard + nginx"
fi

# --- images -------------------------------------------------------------------------------------
if [[ ! -f $ROOT/models/chatbot/config.json || ! -f $ROOT/models/extractor/config.json ]]; then
  log "models/ missing: building them (make models)"
  make -C "$ROOT" models
fi
"$ROOT/scripts/build-images.sh" --models copy

log "loading images into $CLUSTER"
if [[ $ENGINE == docker ]]; then
  for name in "${IMAGES[@]}"; do
    kind load docker-image "simplechat-$name:$VERSION" --name "$CLUSTER"
  done
else
  archives=$(mktemp -d "${TMPDIR:-/tmp}/simplechat-kind.XXXXXX")
  trap 'rm -rf "$archives"' EXIT
  for name in "${IMAGES[@]}"; do
    # podman names local images localhost/...; the chart's bare simplechat-<name> means
    # docker.io/library/... to containerd, so the archive carries that name.
    ref=docker.io/library/simplechat-$name:$VERSION
    podman tag "simplechat-$name:$VERSION" "$ref"
    podman save --format docker-archive -o "$archives/$name.tar" "$ref"
    kind load image-archive "$archives/$name.tar" --name "$CLUSTER"
  done
fi

# --- simplechat ---------------------------------------------------------------------------------
log "installing release $RELEASE in namespace $NAMESPACE"
helm upgrade --install "$RELEASE" "$ROOT/helm/simplechat" \
  --kube-context "$KUBE_CONTEXT" -n "$NAMESPACE" --create-namespace \
  --wait --timeout 15m \
  --set image.registry= --set image.tag="$VERSION" --set image.pullPolicy=IfNotPresent

if [[ "${SKIP_SMOKE:-0}" != 1 ]]; then
  SIMPLECHAT_KUBE_CONTEXT=$KUBE_CONTEXT SIMPLECHAT_NAMESPACE=$NAMESPACE SIMPLECHAT_RELEASE=$RELEASE \
    "$ROOT/scripts/smoke.sh" http://localhost
fi

cat <<EOF

simplechat $VERSION is up in kind cluster $CLUSTER (kubectl context $KUBE_CONTEXT).
  UI:          http://localhost/
  API:         curl -s http://localhost/api/v1/models/extractor:predict -d '{"instances":[{"text":"I loved Organic Chemistry"}]}'
  helm test:   helm test $RELEASE -n $NAMESPACE --kube-context $KUBE_CONTEXT --logs
  smoke again: scripts/smoke.sh http://localhost
  tear down:   scripts/kind-down.sh
EOF
