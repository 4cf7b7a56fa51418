"""The emulator is an independent oracle: it imports nothing from the rest of the package."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import metorial_apply.emulator as emulator

PACKAGE = Path(emulator.__file__).parent
ALLOWED_THIRD_PARTY = {"starlette", "uvicorn", "jsonschema", "click", "httpx"}


def _imports(path: Path) -> list[tuple[str, int]]:
    """(absolute module, relative level) for every import in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def test_emulator_imports_only_stdlib_and_its_own_dependencies() -> None:
    files = sorted(PACKAGE.rglob("*.py"))  # the key emulators in keys/ too
    assert any(p.parent.name == "keys" for p in files)
    for path in files:
        depth = len(path.relative_to(PACKAGE).parts)  # 1 for emulator/x.py, 2 for emulator/keys/x.py
        for module, level in _imports(path):
            if 1 <= level <= depth:
                continue  # within the emulator package
            assert level == 0, f"{path.name}: relative import beyond the emulator package"
            top = module.split(".")[0]
            assert top != "metorial_apply" or module.startswith("metorial_apply.emulator"), (
                f"{path.name} imports {module}"
            )
            assert top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY or top == "metorial_apply", (
                f"{path.name} imports {module}"
            )
