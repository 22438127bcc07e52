"""Measured figures the reliability tests leave for docs/reliability.md (test-output/reliability.json)."""

from __future__ import annotations

import json
import time

from tests.conftest import OUTPUT

FIGURES = OUTPUT / "reliability.json"


def record(key: str, **values: object) -> None:
    """Merge `values` under `key`, stamped with the time, so each test updates only its own row."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    figures[key] = {**values, "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
    FIGURES.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(f"{key}: {values}")
