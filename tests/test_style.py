"""The house rules that keep the code readable, checked over the whole package: modules of at
most 400 lines, functions of at most 40, no catch-all helper modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import metorial_apply

PACKAGE = Path(metorial_apply.__file__).parent
# The CI glue the GitHub Action runs is product code too.
CI_GLUE = PACKAGE.parent / "ci" / "metorial_ci"
MODULES = sorted(PACKAGE.rglob("*.py")) + sorted(CI_GLUE.rglob("*.py"))
CATCH_ALL = {"utils", "util", "helpers", "helper", "manager", "misc", "common"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_module_and_its_functions_stay_small(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 400, f"{path.name} has {len(source.splitlines())} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= 40, f"{path.name}:{node.lineno} {node.name} is {length} lines"


def test_no_catch_all_modules() -> None:
    assert len(MODULES) > 40
    assert not {p.stem for p in MODULES} & CATCH_ALL
