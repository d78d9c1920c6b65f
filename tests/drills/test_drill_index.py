"""The drills README names every drill; each one it names must exist as a test (drill 3 lives
with the dispatcher's worker tests)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
README = Path(__file__).with_name("README.md")


def test_every_drill_in_the_readme_is_a_test():
    text = README.read_text()
    names = re.findall(r"`((?:tests/[\w/]+/)?test_\w+\.py)(?:::(\w+))?`", text)
    assert len(names) >= 4
    for path, function in names:
        file = ROOT / path if path.startswith("tests/") else README.parent / path
        assert file.exists(), path
        tree = ast.parse(file.read_text())
        tests = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert any(t.startswith("test_") for t in tests), path
        if function:
            assert function in tests, f"{path}::{function}"
