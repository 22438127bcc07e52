#!/usr/bin/env bash
# Print the path of a checkov binary, installing a pinned checkov into its own venv when missing
# (its many dependencies stay out of the project's venv). Cached in
# ${SIMPLECHAT_CACHE:-~/.cache/simplechat}/checkov-<version>.
set -euo pipefail
[[ "${DEBUG:-0}" == 1 ]] && set -x

VERSION=3.3.30
VENV=${SIMPLECHAT_CACHE:-$HOME/.cache/simplechat}/checkov-$VERSION
PYTHON=${PYTHON:-python3}

# The stamp is written last: an interrupted install is redone, not half-used.
if [[ ! -f "$VENV/.complete" ]]; then
  command -v "$PYTHON" >/dev/null || { echo "get-checkov: $PYTHON not found" >&2; exit 1; }
  echo "get-checkov: installing checkov $VERSION into $VENV" >&2
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$VERSION" >&2
  touch "$VENV/.complete"
fi
echo "$VENV/bin/checkov"
