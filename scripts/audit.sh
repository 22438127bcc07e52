#!/usr/bin/env bash
# Security and supply-chain checks that `make test` does not run (`make audit` runs this):
#   1. bandit on predictors/ and training/ (configured in pyproject.toml's [tool.bandit]), failing on
#      findings of medium or high severity;
#   2. constraints.txt holds only `name==version` pins (and comments): no ranges, no URLs or paths;
#   3. every distribution installed in the venv (which `make install` fills with
#      `pip install -c constraints.txt -e '.[dev]'`) is pinned there at the installed version;
#      torch is pinned by the Makefile's TORCH_SPEC instead, and checked against it.
# Each check prints one summary line; the script fails when any check does.
#
#   PYTHON=.venv/bin/python TORCH_SPEC='torch==2.13.0' scripts/audit.sh
set -euo pipefail
[[ "${DEBUG:-0}" == 1 ]] && set -x

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
CONSTRAINTS=${CONSTRAINTS:-$ROOT/constraints.txt}
TORCH_SPEC=${TORCH_SPEC:-}
cd "$ROOT"

die() { echo "audit: error: $*" >&2; exit 2; }
"$PYTHON" -m bandit --version >/dev/null 2>&1 \
  || die "bandit is not installed for $PYTHON — run make install (it is in the dev extra)"
[[ -r "$CONSTRAINTS" ]] || die "$CONSTRAINTS not found"

failed=()

# 1. bandit. The gate is medium severity: its low findings here are hygiene (random, subprocess
# imports, try/except/pass) that ruff's S rules already police in `make lint`; medium and high are
# the exploitable kinds (injection, unsafe deserialisation, weak TLS or crypto, unpinned downloads).
# Confidence is not filtered: a low-confidence medium finding still gets a look.
BANDIT_ARGS=(-q --severity-level medium -f custom --msg-template '{relpath}:{line}: {test_id} [{severity}] {msg}')
# B615 (Hugging Face download without a pinned revision) runs apart, skipping the files that load
# only local model dirs already checked by check_model_dir(): from_pretrained() downloads nothing
# there. Anywhere else (training/extractor/train.py's --base-model takes hub ids) it still applies.
B615_LOCAL_ONLY=predictors/chatbot/generation.py,predictors/extractor/model.py,training/extractor/evaluation.py
bandit_ok=1
"$PYTHON" -m bandit -c pyproject.toml -r predictors training "${BANDIT_ARGS[@]}" || bandit_ok=0
"$PYTHON" -m bandit -r predictors training -t B615 -x "$B615_LOCAL_ONLY" "${BANDIT_ARGS[@]}" || bandit_ok=0
if ((bandit_ok)); then
  echo "audit: bandit: ok — no medium or high severity findings in predictors/ and training/"
else
  echo "audit: bandit: FAIL — findings of medium or higher severity in predictors/ or training/ (listed above)"
  failed+=(bandit)
fi

# 2 and 3. Pins. `pip list --format=freeze` gives name==version even for a wheel installed from a
# file (where `pip freeze` writes `name @ file://…`, which would not install on another machine).
installed=$("$PYTHON" -m pip list --format=freeze --exclude-editable --disable-pip-version-check 2>/dev/null)
pins_status=0
"$PYTHON" - "$CONSTRAINTS" "$TORCH_SPEC" "$installed" <<'EOF' || pins_status=$?
import os
import re
import sys

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

constraints_path, torch_spec, installed_text = sys.argv[1:4]
label = os.path.relpath(constraints_path)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9][A-Za-z0-9.+!_-]*)$")
# What pip freeze leaves out, torch (TORCH_SPEC) and the project itself.
NOT_PINNED_HERE = {"pip", "setuptools", "wheel", "distribute", "torch", "simplechat"}
failures = 0

pins, bad_lines = {}, []
with open(constraints_path) as f:
    for number, raw in enumerate(f, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        if not match:
            bad_lines.append(f"  {label}:{number}: {line[:100]}")
            continue
        name = canonicalize_name(match[1])
        if name in pins:
            bad_lines.append(f"  {label}:{number}: {match[1]} is pinned twice")
        pins[name] = match[2]
if bad_lines:
    print("constraints.txt lines that are not `name==version` or a comment:", *bad_lines, sep="\n")
    print(f"audit: constraints.txt: FAIL — {len(bad_lines)} line(s) not `name==version`")
    failures += 1
else:
    print(f"audit: constraints.txt: ok — {len(pins)} pins, every line `name==version` or a comment")

installed = {}
for line in installed_text.splitlines():
    name, _, version = line.partition("==")
    installed[canonicalize_name(name)] = (name, version)
problems, checked = [], 0
for key, (name, version) in sorted(installed.items()):
    if key in NOT_PINNED_HERE:
        continue
    checked += 1
    if key not in pins:
        problems.append(f"  {name}=={version}: not in constraints.txt")
    elif pins[key] != version:
        problems.append(f"  {name}=={version}: constraints.txt pins {pins[key]}")
if "torch" in installed and torch_spec:
    try:
        spec = Requirement(torch_spec).specifier
    except InvalidRequirement:
        problems.append(f"  TORCH_SPEC={torch_spec!r} is not a requirement")
    else:
        if not spec.contains(installed["torch"][1], prereleases=True):
            problems.append(f"  torch=={installed['torch'][1]}: TORCH_SPEC is {torch_spec}")
if problems:
    print("Installed distributions not pinned at their version (pin them: make constraints):", *problems, sep="\n")
    print(f"audit: pins: FAIL — {len(problems)} installed distribution(s) unpinned or at another version")
    failures += 1
else:
    torch = f"; torch {installed['torch'][1]} matches TORCH_SPEC" if "torch" in installed and torch_spec else ""
    print(f"audit: pins: ok — all {checked} installed distributions pinned in constraints.txt{torch}")
sys.exit(1 if failures else 0)
EOF
((pins_status == 0)) || failed+=(pins)

if ((${#failed[@]})); then
  echo "audit: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "audit: all checks passed"
