#!/usr/bin/env bash
# A local cluster running simplechat end to end: kind + ingress-nginx + cert-manager + KServe
# (Standard mode), the three images built and `kind load`ed, the Helm chart installed, its
# InferenceServices Ready, then the smoke suite through the ingress on http://localhost
# (http://localhost:8080 under rootless podman). Safe to re-run: each step does only what is
# missing.
#
#   scripts/kind-up.sh                        # cluster "simplechat", release "simplechat"
#   DEBUG=1 scripts/kind-up.sh                # trace every command
#   VERSION=0.1.0-dev2 scripts/kind-up.sh     # new image tag, so running pods pick up a rebuild
#
# Environment: CLUSTER (simplechat), RELEASE (simplechat), NAMESPACE (simplechat),
# ENGINE (docker|podman; default: whichever is present), VERSION (pyproject's), PYTHON (python3,
# edits KServe's JSON settings), SKIP_SMOKE=1 (stop after the install), HTTP_PORT/HTTPS_PORT (host
# ports of the ingress: 80/443, or 8080/8443 under rootless podman; used when the cluster is
# created), READY_TIMEOUT (15m, for the InferenceServices), KSERVE_APPLY_ATTEMPTS (12) and
# KSERVE_APPLY_DELAY (10 s) for KServe's install.
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
READY_TIMEOUT=${READY_TIMEOUT:-15m}
KSERVE_APPLY_ATTEMPTS=${KSERVE_APPLY_ATTEMPTS:-12}
KSERVE_APPLY_DELAY=${KSERVE_APPLY_DELAY:-10}
# The KServe deployments that serve the admission webhooks kserve.yaml's own objects go through.
KSERVE_CONTROLLERS=(kserve-controller-manager llmisvc-controller-manager)

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

work=$(mktemp -d "${TMPDIR:-/tmp}/simplechat-kind.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- host ports ---------------------------------------------------------------------------------
# Rootless podman cannot bind host ports below 1024 (net.ipv4.ip_unprivileged_port_start), so the
# cluster would not start with kind-config.yaml's 80/443: publish the ingress on 8080/8443 instead.
if [[ -z ${HTTP_PORT:-} && $ENGINE == podman \
      && $(podman info --format '{{.Host.Security.Rootless}}' 2>/dev/null) == true ]]; then
  HTTP_PORT=8080 HTTPS_PORT=${HTTPS_PORT:-8443}
  log "rootless podman: the ingress goes on host ports $HTTP_PORT/$HTTPS_PORT"
fi
HTTP_PORT=${HTTP_PORT:-80}
HTTPS_PORT=${HTTPS_PORT:-443}
[[ $HTTP_PORT =~ ^[0-9]+$ && $HTTPS_PORT =~ ^[0-9]+$ ]] \
  || die "HTTP_PORT and HTTPS_PORT must be port numbers, not '$HTTP_PORT' and '$HTTPS_PORT'"
URL=http://localhost
[[ $HTTP_PORT == 80 ]] || URL=http://localhost:$HTTP_PORT
cluster_config=$CONFIG
if [[ $HTTP_PORT != 80 || $HTTPS_PORT != 443 ]]; then
  # A copy with other host ports; the node's side (containerPort, where ingress-nginx binds) stays.
  cluster_config=$work/kind-config.yaml
  sed -e "s/^\( *hostPort:\) 80\$/\1 $HTTP_PORT/" -e "s/^\( *hostPort:\) 443\$/\1 $HTTPS_PORT/" \
    "$CONFIG" >"$cluster_config"
  for port in "$HTTP_PORT" "$HTTPS_PORT"; do
    grep -qx " *hostPort: $port" "$cluster_config" \
      || die "could not set host port $port: scripts/kind-config.yaml needs its 'hostPort: 80' and 'hostPort: 443' lines"
  done
fi

# --- cluster ------------------------------------------------------------------------------------
if cluster_exists; then
  log "cluster $CLUSTER exists: reusing it (with the host ports it was created with)"
else
  log "creating cluster $CLUSTER ($KIND_NODE_IMAGE, ingress on host ports $HTTP_PORT/$HTTPS_PORT)"
  kind create cluster --name "$CLUSTER" --config "$cluster_config" --wait 180s
fi
kc cluster-info >/dev/null || die "cluster $CLUSTER exists but its API does not answer — scripts/kind-down.sh, then retry"

# --- ingress-nginx ------------------------------------------------------------------------------
want=${INGRESS_NGINX_VERSION#controller-v}
have=$(kc get deployment -n ingress-nginx ingress-nginx-controller \
  -o jsonpath='{.metadata.labels.app\.kubernetes\.io/version}' 2>/dev/null || true)
if [[ -z $have ]]; then
  log "installing ingress-nginx $INGRESS_NGINX_VERSION"
  kc apply -f "$INGRESS_NGINX_URL"
elif [[ $have == "$want" ]]; then
  log "ingress-nginx $have present: skipping install"
else
  # Not upgraded in place: the manifest's admission Jobs are immutable, so an apply over them fails.
  log "warning: ingress-nginx $have present, $want pinned: left as is (scripts/kind-down.sh, then re-run, to upgrade)"
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
# kserve.yaml holds CRDs, the controllers, their admission webhooks and objects those webhooks
# admit (LLMInferenceServiceConfigs): on a cold node the first apply is refused in part (CRDs not
# established yet, webhooks with no endpoints). So: apply, wait for the CRDs and the controllers,
# then re-apply until it takes, a bounded number of times. The kserve namespace records a finished
# install, so a re-run skips it and a new KSERVE_VERSION is applied over it.
kserve_apply() {
  # Server-side: the InferenceService CRD is too large for client-side apply's annotation.
  kc apply --server-side --force-conflicts -f "$1"
}
kserve_debug="kubectl --context $KUBE_CONTEXT -n kserve get pods,events; kubectl --context $KUBE_CONTEXT -n kserve logs deployment/kserve-controller-manager"
installed=$(kc get namespace kserve -o jsonpath='{.metadata.annotations.simplechat/kserve-version}' 2>/dev/null || true)
if [[ $installed == "$KSERVE_VERSION" ]]; then
  log "KServe $KSERVE_VERSION present: skipping install"
else
  log "installing KServe $KSERVE_VERSION"
  kserve_apply "$KSERVE_URL" \
    || log "KServe's first apply was refused in part (expected on a new cluster: its webhooks are not up yet)"
  kc wait --for=condition=Established crd --all --timeout=180s \
    || die "KServe's CRDs are not established (did $KSERVE_URL download?)"
  kc wait -n kserve --for=condition=Available "${KSERVE_CONTROLLERS[@]/#/deployment/}" --timeout=600s \
    || die "KServe's controllers are not Available after 10 minutes: $kserve_debug"
  retry "$KSERVE_APPLY_ATTEMPTS" "$KSERVE_APPLY_DELAY" kserve_apply "$KSERVE_URL" \
    || die "KServe $KSERVE_VERSION still refused after $KSERVE_APPLY_ATTEMPTS applies with its controllers up, giving up: $kserve_debug"
  kc annotate namespace kserve --overwrite "simplechat/kserve-version=$KSERVE_VERSION"
fi
kc wait -n kserve --for=condition=Available "${KSERVE_CONTROLLERS[@]/#/deployment/}" --timeout=300s \
  || die "KServe's controllers are not Available: $kserve_debug"
if [[ -n $(kc get clusterservingruntimes -o name 2>/dev/null) ]]; then
  log "KServe cluster resources present: skipping"
else
  retry "$KSERVE_APPLY_ATTEMPTS" "$KSERVE_APPLY_DELAY" kserve_apply "$KSERVE_CLUSTER_RESOURCES_URL" \
    || die "KServe's cluster resources still refused after $KSERVE_APPLY_ATTEMPTS applies, giving up: $kserve_debug"
fi

# KServe installs with Knative (Serverless) as the default mode; this cluster has none. Standard
# makes plain Deployments + Services (the chart also annotates each InferenceService).
# disableIngressCreation: otherwise KServe makes an Ingress per InferenceService that sends every
# path of the predictor (host <name>-<namespace>.example.com) past the chart's /api allowlist; the
# chart's Ingress must be the only way in. The field is "disableIngressCreation" in the `ingress`
# document (IngressConfig in pkg/apis/serving/v1beta1/configmap.go, honoured by the raw Ingress
# reconciler, as of KServe 0.16; in KServe's Helm chart it is
# kserve.controller.gateway.disableIngressCreation).
# Class nginx stays for any Ingress KServe would make were that turned back on (no istio here).
# Each setting is a JSON document inside the ConfigMap: only the named fields change, the rest stay.
patch=$(kc get configmap inferenceservice-config -n kserve -o json | "$PYTHON" -c '
import json, sys
data = json.load(sys.stdin).get("data", {})
want = {"deploy": {"defaultDeploymentMode": "Standard"},
        "ingress": {"ingressClassName": "nginx", "disableIngressCreation": True}}
changed = {}
for key, fields in want.items():
    value = json.loads(data.get(key) or "{}")
    if any(value.get(k) != v for k, v in fields.items()):
        changed[key] = json.dumps({**value, **fields}, indent=2)
print(json.dumps({"data": changed}) if changed else "")
')
if [[ -n $patch ]]; then
  log "setting KServe defaults: deployment mode Standard, no Ingress of its own"
  kc patch configmap inferenceservice-config -n kserve --type merge -p "$patch"
  # Restarted so no cached copy of the old defaults survives in the controller or its webhook.
  kc rollout restart deployment/kserve-controller-manager -n kserve
  kc rollout status deployment/kserve-controller-manager -n kserve --timeout=300s
else
  log "KServe defaults already Standard, no Ingress of its own"
fi
# An Ingress KServe made before that setting (an earlier run) outlives it: delete those.
stale=$(kc get ingress -n "$NAMESPACE" -o json | "$PYTHON" -c '
import json, sys
for item in json.load(sys.stdin).get("items", []):
    if any(o.get("kind") == "InferenceService" for o in item["metadata"].get("ownerReferences", [])):
        print(item["metadata"]["name"])
')
if [[ -n $stale ]]; then
  log "deleting the Ingresses KServe made for its InferenceServices: ${stale//$'\n'/ }"
  # shellcheck disable=SC2086 # one Kubernetes name a line, no spaces in any
  kc delete ingress -n "$NAMESPACE" $stale
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
  for name in "${IMAGES[@]}"; do
    # podman names local images localhost/...; the chart's bare simplechat-<name> means
    # docker.io/library/... to containerd, so the archive carries that name.
    ref=docker.io/library/simplechat-$name:$VERSION
    podman tag "simplechat-$name:$VERSION" "$ref"
    podman save --format docker-archive -o "$work/$name.tar" "$ref"
    kind load image-archive "$work/$name.tar" --name "$CLUSTER"
  done
fi

# --- simplechat ---------------------------------------------------------------------------------
log "installing release $RELEASE in namespace $NAMESPACE"
helm upgrade --install "$RELEASE" "$ROOT/helm/simplechat" \
  --kube-context "$KUBE_CONTEXT" -n "$NAMESPACE" --create-namespace \
  --wait --timeout 15m \
  --set image.registry= --set image.tag="$VERSION" --set image.pullPolicy=IfNotPresent

# helm's --wait covers Deployments, not custom resources: an InferenceService is Ready only once
# KServe has rolled out its predictor and the model passes its readiness probe.
log "waiting up to $READY_TIMEOUT for the InferenceServices in $NAMESPACE to be Ready"
kc wait -n "$NAMESPACE" --for=condition=Ready inferenceservice --all --timeout="$READY_TIMEOUT" \
  || die "InferenceServices not Ready after $READY_TIMEOUT: kubectl --context $KUBE_CONTEXT -n $NAMESPACE describe inferenceservices"

if [[ "${SKIP_SMOKE:-0}" != 1 ]]; then
  SIMPLECHAT_KUBE_CONTEXT=$KUBE_CONTEXT SIMPLECHAT_NAMESPACE=$NAMESPACE SIMPLECHAT_RELEASE=$RELEASE \
    "$ROOT/scripts/smoke.sh" "$URL"
fi

cat <<EOF

simplechat $VERSION is up in kind cluster $CLUSTER (kubectl context $KUBE_CONTEXT).
  UI:          $URL/
  API:         curl -s $URL/api/v1/models/extractor:predict -d '{"instances":[{"text":"I loved Organic Chemistry"}]}'
  helm test:   helm test $RELEASE -n $NAMESPACE --kube-context $KUBE_CONTEXT --logs
  smoke again: scripts/smoke.sh $URL
  tear down:   scripts/kind-down.sh
EOF
