#!/usr/bin/env bash
# Install the Debian packages the tests drive for real: nginx (the UI proxy, exactly as the
# cluster runs it), chromium (headless browser tests), gettext-base (envsubst renders
# frontend/nginx.conf); on request podman, runc and debootstrap (the image tests), prometheus
# (the monitoring tests run the dashboard's and the autoscaler's queries against it) and the
# script linter.
# Idempotent: installs only what is missing.
#
#   scripts/install-system-deps.sh            # everything the tests need
#   scripts/install-system-deps.sh nginx      # just these commands
set -euo pipefail
[[ "${DEBUG:-0}" == 1 ]] && set -x

# command -> Debian package that provides it
declare -A PACKAGE=([nginx]=nginx [chromium]=chromium [envsubst]=gettext-base
                    [podman]=podman [runc]=runc [debootstrap]=debootstrap [shellcheck]=shellcheck
                    [prometheus]=prometheus)

wanted=("$@")
[[ ${#wanted[@]} -gt 0 ]] || wanted=(nginx chromium envsubst)

missing=()
for cmd in "${wanted[@]}"; do
  [[ -n "${PACKAGE[$cmd]:-}" ]] || { echo "unknown prerequisite: $cmd" >&2; exit 2; }
  command -v "$cmd" >/dev/null 2>&1 || [[ -x "/usr/sbin/$cmd" ]] || missing+=("${PACKAGE[$cmd]}")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: ${missing[*]} — install them with your package manager (no apt-get here)" >&2
  exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "missing: ${missing[*]} — run as root or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian packages start a system nginx on port 80 and a system prometheus on port 9090 (all
# interfaces); the tests run their own instances on loopback.
for service in nginx prometheus; do
  if [[ " ${missing[*]} " == *" $service "* ]] && command -v systemctl >/dev/null 2>&1; then
    "${sudo[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
done
echo "installed: ${missing[*]}"
