"""The package's import direction, checked over every module of every stage package:
cli → apply, render → planning, api → config → core; planning, config, render and core never
reach the network, the CLI or the applier, directly or transitively; the emulator imports
nothing of ours."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import metorial_apply

PACKAGE = Path(metorial_apply.__file__).parent
ROOT = "metorial_apply"
# Which of our packages each package may import ("" is the package face: __version__ only).
ALLOWED: dict[str, set[str]] = {
    "core": {""},
    "config": {"", "core"},
    "planning": {"", "core"},
    "render": {"", "core", "planning"},
    # api's in-process transport for `--api-url local` is the emulator's ASGI app.
    "api": {"", "core", "emulator"},
    "apply": {"", "core", "planning", "api"},
    "cli": {"", "core", "config", "planning", "render", "api", "apply", "emulator"},
    "emulator": set(),
}
# Third-party and stdlib modules that mean I/O or user interface; the pure stages never import them.
IMPURE = ("httpx", "click", "rich", "starlette", "uvicorn", "socket", "subprocess", "asyncio", "sqlite3")
PURE = ("core", "config", "planning", "render")


def package_of(module: str) -> str | None:
    """`metorial_apply.planning.diff` → `planning`; the package face → ``; not ours → None."""
    if module == ROOT:
        return ""
    if not module.startswith(ROOT + "."):
        return None
    return module.split(".")[1]


def base_of(node: ast.ImportFrom, module: str) -> str:
    """The absolute module a `from … import` in `module` imports from, relative levels resolved."""
    base = node.module or ""
    if node.level:
        parent = module.rsplit(".", node.level)[0]
        base = f"{parent}.{base}" if base else parent
    return base


def imports_of(source: str, module: str) -> set[str]:
    """Absolute names of what `source` (the text of `module`) imports, relative imports resolved."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = base_of(node, module)
            names.add(base)
            if base == ROOT:  # `from metorial_apply import emulator` names a package
                names |= {f"{ROOT}.{alias.name}" for alias in node.names if alias.name != "__version__"}
    return names


def violations(source: str, module: str) -> list[str]:
    """What `module` imports that its package may not."""
    own = package_of(module)
    assert own is not None and own in ALLOWED, module
    bad = []
    for name in sorted(imports_of(source, module)):
        theirs = package_of(name)
        if (theirs is not None and theirs != own and theirs not in ALLOWED[own]) or (
            theirs is None and own in PURE and name.split(".")[0] in IMPURE
        ):
            bad.append(name)
    return bad


def module_name(path: Path) -> str:
    # A package's __init__ keeps its own name, so that `from .x` resolves inside the package.
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


MODULES = [p for p in sorted(PACKAGE.rglob("*.py")) if p.parent != PACKAGE]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_follow_the_direction(path: Path) -> None:
    module = module_name(path)
    assert violations(path.read_text(encoding="utf-8"), module) == [], module


def test_only_entry_points_and_the_package_face_sit_at_the_top() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py"]
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} == set(ALLOWED)


def test_a_planning_module_importing_the_client_is_caught() -> None:
    source = "from metorial_apply.api.client import MetorialClient\nfrom metorial_apply.core.model import Address\n"
    assert violations(source, "metorial_apply.planning.synthetic") == ["metorial_apply.api.client"]
    relative = "from ..api import client\nimport httpx\n"
    assert violations(relative, "metorial_apply.planning.synthetic") == ["httpx", "metorial_apply.api"]
    assert violations("from metorial_apply import emulator\n", "metorial_apply.core.synthetic") == [
        "metorial_apply.emulator"]
    assert violations("from metorial_apply.core import errors\n", "metorial_apply.emulator.synthetic") == [
        "metorial_apply.core"]


def test_pure_stages_do_not_pull_io_in_transitively() -> None:
    """Importing every pure module loads none of the network, CLI or applier modules."""
    pure = [module_name(p).removesuffix(".__init__") for p in MODULES if package_of(module_name(p)) in PURE]
    banned = ("httpx", "click", "rich", "starlette", "uvicorn", f"{ROOT}.api", f"{ROOT}.apply",
              f"{ROOT}.cli", f"{ROOT}.emulator")
    code = ("import sys\n" + "".join(f"import {m}\n" for m in pure)
            + f"print(sorted(n for n in sys.modules if n.split('.')[0] in {banned!r} or "
            f"any(n == b or n.startswith(b + '.') for b in {banned!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert len(pure) > 25
    assert out.stdout.strip() == "[]", out.stdout
