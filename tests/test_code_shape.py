"""The code's shape, as the style guide asks: short modules, short functions.

Modules in ``shared/`` stay under 400 lines and functions under 60, unless the ``def`` line
says why (``# long: <reason>``). A growing module is the moment to split a concept out.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _sources() -> list[Path]:
    return sorted((ROOT / "shared").rglob("*.py"))


def test_modules_stay_under_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in _sources()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_functions_stay_under_60_lines_unless_they_say_why():
    long = []
    for path in _sources():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            header = " ".join(lines[node.lineno - 1: node.body[0].lineno - 1])
            if size > MAX_FUNCTION_LINES and "# long:" not in header:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({size})")
    assert long == []


def test_the_check_sees_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(70))
    node = ast.parse(f"def f():\n{body}\n").body[0]
    assert node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
