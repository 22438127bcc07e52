#!/usr/bin/env bash
# Build the images (chatbot, extractor, extractor-onnx, ui) from the one Dockerfile with docker or podman,
# tag them simplechat-<name>:<version>, print their sizes; optionally push them.
#
#   scripts/build-images.sh                         # public bases; predictors read /mnt/models
#   scripts/build-images.sh --models copy           # bake models/chatbot and models/extractor in
#   scripts/build-images.sh --models train          # train both models during the build
#   scripts/build-images.sh --push docker.io/me     # also tag and push REGISTRY/simplechat-<name>:<version>
#   scripts/build-images.sh --local                 # this machine: no image pulls, no torch index
#   scripts/build-images.sh --cuda                  # chatbot and extractor on CUDA torch: <version>-cuda
#   scripts/build-images.sh --cuda --dry-run        # print the engine commands, run nothing
#
# --cuda installs torch from TORCH_CUDA_INDEX_URL (default https://download.pytorch.org/whl/cu130,
# the CUDA 13.0 build that PyPI's torch 2.13.0 also depends on; needs NVIDIA driver >= 580; set
# .../cu126 or .../cu128 for older drivers if that index carries your TORCH_SPEC) and tags the
# images simplechat-<name>:<version>-cuda, so a GPU deployment names its image on purpose. The ui
# image has no torch; TARGETS=ray builds the RayService's simplechat-ray:<version>-cuda.
#
# --local builds on debootstrapped stand-ins for the public bases (scripts/make-local-bases.sh)
# and lends the build this host's network, CA bundle and wheel directory (PIP_FIND_LINKS) —
# opt-in, never part of the public build.
# Environment: ENGINE (docker|podman; default: whichever is present), VERSION (pyproject's),
# TARGETS ("chatbot extractor extractor-onnx ui"; with --cuda "chatbot extractor"), TORCH_CUDA_INDEX_URL.
set -euo pipefail
[[ "${DEBUG:-0}" == 1 ]] && set -x

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "build-images: $*" >&2; exit 1; }

models=none
push=""
local_build=0
cuda=0
dry_run=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --models) models=${2:?--models needs none|copy|train}; shift 2 ;;
    --push) push=${2:?--push needs a registry, e.g. docker.io/you}; shift 2 ;;
    --local) local_build=1; shift ;;
    --cuda) cuda=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ $models =~ ^(none|copy|train)$ ]] || die "--models must be none, copy or train"

# run CMD... — run it, or with --dry-run print it (shell-quoted, on the script's stdout: fd 3,
# whatever the call redirects) and run nothing.
exec 3>&1
run() {
  if [[ $dry_run == 1 ]]; then printf '%q ' "$@" >&3; echo >&3; else "$@"; fi
}

if [[ -z "${ENGINE:-}" ]]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then ENGINE=docker
  elif command -v podman >/dev/null 2>&1; then ENGINE=podman
  elif [[ $dry_run == 1 ]]; then ENGINE=docker  # only printed
  else die "neither docker nor podman found — install one"; fi
fi
engine=("$ENGINE")
# Debian's podman defaults to crun, which this kind of sandbox lacks; runc works.
if [[ $ENGINE == podman ]] && command -v runc >/dev/null && ! command -v crun >/dev/null; then
  engine+=(--runtime runc)
fi
VERSION=${VERSION:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml")}
TAG=$VERSION
args=(--build-arg "CHATBOT_MODEL=$models" --build-arg "EXTRACTOR_MODEL=$models")
if [[ $cuda == 1 ]]; then
  TARGETS=${TARGETS:-chatbot extractor}
  [[ " $TARGETS " != *" ui "* ]] || die "--cuda: the ui image has no torch — build it without --cuda"
  [[ " $TARGETS " != *" extractor-onnx "* ]] || die "--cuda: the extractor-onnx image has no torch (ONNX Runtime on CPU) — build it without --cuda"
  [[ $local_build == 0 ]] || die "--cuda needs the CUDA torch index; --local builds from this machine's CPU wheel"
  TORCH_CUDA_INDEX_URL=${TORCH_CUDA_INDEX_URL:-https://download.pytorch.org/whl/cu130}
  args+=(--build-arg "TORCH_INDEX_URL=$TORCH_CUDA_INDEX_URL")
  TAG=$VERSION-cuda
fi
TARGETS=${TARGETS:-chatbot extractor extractor-onnx ui}
if [[ $models == copy ]]; then
  for name in chatbot extractor; do
    [[ -f "$ROOT/models/$name/config.json" ]] || die "models/$name is missing — run make models (or use --models train)"
    args+=(--build-context "$name-model-dir=$ROOT/models/$name")
  done
fi
if [[ $local_build == 1 ]]; then
  [[ $ENGINE == podman ]] || die "--local is for podman without a registry"
  run "$ROOT/scripts/make-local-bases.sh"
  args+=(--build-arg PYTHON_BASE=localhost/simplechat-python-base
         --build-arg NGINX_BASE=localhost/simplechat-nginx-base
         --network host -v /etc/ssl/certs:/etc/ssl/certs:ro
         --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
  if [[ -d /opt/wheels ]]; then  # the CPU torch wheel lies here; the torch index is out of reach
    args+=(-v /opt/wheels:/opt/wheels:ro --build-arg PIP_FIND_LINKS=/opt/wheels --build-arg TORCH_INDEX_URL=)
  fi
fi

for target in $TARGETS; do
  image="simplechat-$target:$TAG"
  echo "building $image (target $target, models: $models)"
  started=$SECONDS
  run "${engine[@]}" build --target "$target" -t "$image" "${args[@]}" -f "$ROOT/Dockerfile" "$ROOT" >&2
  [[ $dry_run == 1 ]] || echo "built $image in $((SECONDS - started)) s"
done

if [[ $dry_run == 0 ]]; then
  echo "images:"
  for target in $TARGETS; do
    image="simplechat-$target:$TAG"
    bytes=$("${engine[@]}" image inspect --format '{{.Size}}' "$image")
    printf '  %-32s %6d MB\n' "$image" $((bytes / 1000000))
  done
fi

if [[ -n $push ]]; then
  for target in $TARGETS; do
    image="simplechat-$target:$TAG"
    run "${engine[@]}" tag "$image" "$push/$image"
    run "${engine[@]}" push "$push/$image"
    [[ $dry_run == 1 ]] || echo "pushed $push/$image"
  done
fi
