"""Pages served here forbid eval (CSP script-src 'self'). Playwright evaluates a wait_for_function predicate with eval;
a function is evaluated once, by the debugger (exempt), but a bare expression is re-evaluated on every poll and the
page refuses it, so such a test fails only when its condition is not already true at the first poll."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _string_value(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        first = node.values[0] if node.values else None
        return first.value if isinstance(first, ast.Constant) else None
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def bare_predicates(source: str) -> list[int]:
    """Line numbers of wait_for_function calls whose predicate is a string that is not an arrow function."""
    tree = ast.parse(source)
    constants = {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                 for target in node.targets if isinstance(target, ast.Name)}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "wait_for_function" and node.args:
            text = _string_value(node.args[0], constants)
            if text is not None and "=>" not in text.split("\n", 1)[0][:40]:
                lines.append(node.lineno)
    return lines


def test_the_check_finds_a_bare_expression() -> None:
    assert bare_predicates("page.wait_for_function(\"document.title === 'x'\")") == [1]
    assert bare_predicates("P = '() => 1'\npage.wait_for_function(P)\npage.wait_for_function(f\"n => n > {2}\")") == []


def test_every_browser_wait_is_a_function() -> None:
    found = {str(path.relative_to(TESTS)): lines for path in sorted(TESTS.rglob("*.py"))
             if (lines := bare_predicates(path.read_text()))}
    assert found == {}, f"write these predicates as '() => …' (a bare expression is eval'd each poll): {found}"
