"""The planning path is pure: its modules (and what they import, transitively) never reach
httpx, click, the client, live reading, applying or the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "metorial_apply"
PURE = ["config", "state", "graph", "diff", "plan", "render", "model", "kinds", "specs", "fingerprint",
        "action", "saved", "safety"]
FORBIDDEN = ("httpx", "click", "metorial_apply.client", "metorial_apply.live", "metorial_apply.apply",
             "metorial_apply.cli", "metorial_apply.catalog")


def module_file(name: str) -> Path | None:
    rel = name.removeprefix("metorial_apply").lstrip(".").replace(".", "/")
    for candidate in (PKG / f"{rel}.py", PKG / rel / "__init__.py"):
        if rel and candidate.exists():
            return candidate
    return None


def imports_of(name: str) -> set[str]:
    path = module_file(name)
    if path is None:
        return set()
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative import inside a package
                parent = name if path.name == "__init__.py" else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    parent = parent.rpartition(".")[0]
                base = f"{parent}.{node.module}"
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names if module_file(f"{base}.{a.name}")}
    return out


def closure(root: str) -> dict[str, str]:
    """Every module reachable from `root` → the module that imported it."""
    seen = {root: root}
    todo = [root]
    while todo:
        current = todo.pop()
        for imported in imports_of(current):
            if imported not in seen:
                seen[imported] = current
                if imported.startswith("metorial_apply"):
                    todo.append(imported)
    return seen


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_io(module: str) -> None:
    reached = closure(f"metorial_apply.{module}")
    bad = {m: via for m, via in reached.items() if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)}
    assert not bad, f"{module} reaches {bad}"


def test_the_check_itself_sees_a_forbidden_import() -> None:
    assert "httpx" in closure("metorial_apply.client")
    assert "metorial_apply.client" in closure("metorial_apply.live")
