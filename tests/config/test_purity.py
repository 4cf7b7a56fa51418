"""The configuration modules do no I/O beyond reading the given files: no HTTP, no CLI, no
client/live/apply, no subprocesses or sockets — checked on their imports, directly and
transitively."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "metorial_apply"
CONFIG_MODULES = ("config", "configfiles", "docschema", "interpolate", "references", "resolve",
                  "sections", "specerrors", "variables", "yamlsource")
FORBIDDEN = ("httpx", "click", "rich", "socket", "subprocess", "urllib", "requests", "asyncio", "starlette",
             "uvicorn", "metorial_apply.client", "metorial_apply.live", "metorial_apply.apply",
             "metorial_apply.catalog", "metorial_apply.cli", "metorial_apply.emulator", "metorial_apply.render")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


@pytest.mark.parametrize("module", CONFIG_MODULES)
def test_config_module_imports_are_pure(module: str) -> None:
    bad = sorted(n for n in imports_of(PACKAGE / f"{module}.py") if forbidden(n))
    assert not bad, f"{module}.py imports {bad}"


# Third-party libraries may load stdlib networking modules for parsing (urllib.parse) or
# type checks (socket); transitively only the HTTP/CLI stacks and our I/O modules are banned.
TRANSITIVE = tuple(f for f in FORBIDDEN if f not in ("socket", "urllib", "subprocess", "asyncio"))


def test_config_modules_do_not_pull_io_in_transitively() -> None:
    code = ("import sys\n" + "".join(f"import metorial_apply.{m}\n" for m in CONFIG_MODULES)
            + f"print(sorted(n for n in sys.modules if any(n == f or n.startswith(f + '.') for f in {TRANSITIVE!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_checker_would_catch_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import json\nfrom metorial_apply.client import open_client\nimport httpx.transports\n")
    assert sorted(n for n in imports_of(sample) if forbidden(n)) == ["httpx.transports", "metorial_apply.client"]
