"""docs/kubernetes.md names, for each failure mode, the test that covers it: those tests exist."""

from __future__ import annotations

import ast
import re

from tests.conftest import ROOT

DOC = ROOT / "docs" / "kubernetes.md"


def test_every_test_the_page_names_exists():
    text = DOC.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if re.match(r"^\| \d+[a-d]? \|", line)]
    assert len({row.split("|")[1].strip().rstrip("abcd") for row in rows}) == 14  # the fourteen failure modes
    current = None
    named = []
    for path, names in re.findall(r"`(tests/[\w/]+\.py)((?:::\w+)?)", text):
        current = path
        named.append((path, names.lstrip(":")))
    # "`file::a`, `::b`" names b in the same file as a.
    for follow in re.findall(r"`(tests/[\w/]+\.py)::\w+`((?:, `::\w+`)+)", text):
        named += [(follow[0], n) for n in re.findall(r"`::(\w+)`", follow[1])]
    assert current and named
    for path, name in named:
        file = ROOT / path
        assert file.is_file(), path
        if name:
            functions = {n.name for n in ast.walk(ast.parse(file.read_text())) if isinstance(n, ast.FunctionDef)}
            assert name in functions, f"{path}::{name}"
