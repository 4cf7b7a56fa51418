"""No import circles among the package's modules. Every import counts, those under `if
TYPE_CHECKING:` and inside functions too: moving an import out of sight does not untie a
circle. An import of a module's own ancestor package does not count: Python imports parents
first, so that edge is no design choice."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping

import pytest

from tests.test_layers import PACKAGE, ROOT, base_of, imports_of, module_name

Graph = dict[str, set[str]]
# Each circle is reported under the deepest of these packages holding all its modules; ROOT
# catches circles across packages, so no circle goes unchecked.
PACKAGES = ("core", "config", "planning", "render", "api", "apply", "cli", "emulator", "emulator.keys")


def is_ancestor(package: str, module: str) -> bool:
    return module.startswith(package + ".")


def edges_of(source: str, module: str, known: set[str]) -> set[str]:
    """Our modules that `source` imports, `from pkg import module` submodules included.
    `module` is as test_layers names it: a package's __init__ keeps the suffix, so that a
    relative import resolves inside the package."""
    node = module.removesuffix(".__init__")
    named = imports_of(source, module)
    for statement in ast.walk(ast.parse(source)):
        if isinstance(statement, ast.ImportFrom):
            base = base_of(statement, module)
            named |= {f"{base}.{alias.name}" for alias in statement.names}
    return {name for name in named if name in known and name != node and not is_ancestor(name, node)}


def import_graph(sources: Mapping[str, str]) -> Graph:
    """Module → the modules it imports, for `sources` (module name, as module_name gives it → text).
    A package is one node, named without `.__init__`."""
    known = {module.removesuffix(".__init__") for module in sources}
    return {module.removesuffix(".__init__"): edges_of(text, module, known) for module, text in sources.items()}


def components(graph: Graph) -> list[list[str]]:
    """Strongly connected components of several modules (the circles), by Tarjan's algorithm,
    iteratively: a recursive walk could outgrow the stack."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            step = next(successors, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                found.append(_pop_component(node, stack, on_stack))
    return sorted(c for c in found if len(c) > 1)


def _pop_component(head: str, stack: list[str], on_stack: set[str]) -> list[str]:
    members = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        members.append(member)
        if member == head:
            return sorted(members)


def one_circle(graph: Graph, component: list[str]) -> list[str]:
    """A shortest circle through the component's first module, to name in a failure."""
    start, inside = component[0], set(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for step in sorted(graph[node] & inside):
                if step == start:
                    return paths[node] + [start]
                if step not in paths:
                    paths[step] = paths[node] + [step]
                    following.append(step)
        frontier = following
    raise AssertionError(f"{component} is no strongly connected component")


def owner(component: list[str]) -> str:
    """The deepest of PACKAGES holding every module of the component, else ROOT."""
    holders = [p for p in PACKAGES if all(is_ancestor(f"{ROOT}.{p}", m) for m in component)]
    return max(holders, key=len, default=ROOT)


def circles(graph: Graph, package: str) -> list[str]:
    """Each circle owned by `package`, as `a → b → a` (short names), then the whole component
    when it holds more modules than that one circle."""
    short = len(ROOT) + 1
    found = []
    for component in components(graph):
        if owner(component) != package:
            continue
        circle = one_circle(graph, component)
        text = " → ".join(m[short:] for m in circle)
        if len(component) > len(circle) - 1:
            text += f" (one of the circles among {', '.join(m[short:] for m in component)})"
        found.append(text)
    return found


def package_sources() -> dict[str, str]:
    return {module_name(p): p.read_text(encoding="utf-8") for p in sorted(PACKAGE.rglob("*.py"))}


GRAPH = import_graph(package_sources())


@pytest.mark.parametrize("package", PACKAGES + (ROOT,))
def test_no_import_circles(package: str) -> None:
    found = circles(GRAPH, package)
    assert found == [], f"import circles in {package}:\n  " + "\n  ".join(found)


def test_every_package_is_checked_by_name() -> None:
    """A new package is listed, so a circle inside it is reported under its own name."""
    packages = {".".join(p.parent.relative_to(PACKAGE).parts) for p in PACKAGE.rglob("__init__.py")}
    assert packages - {""} == set(PACKAGES)


def test_a_synthetic_circle_is_caught() -> None:
    graph = import_graph({
        f"{ROOT}.emulator.__init__": "from .a import A\n",
        f"{ROOT}.emulator.a": "from . import b\nfrom .choices import X\n",
        # a circle hidden behind TYPE_CHECKING and inside a function still counts
        f"{ROOT}.emulator.b": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n",
        f"{ROOT}.emulator.c": "def f() -> None:\n    from metorial_apply.emulator.a import x\n",
        # importing the own package (an ancestor) is no circle
        f"{ROOT}.emulator.d": "from . import a\nfrom metorial_apply import emulator\n",
    })
    assert circles(graph, "emulator") == ["emulator.a → emulator.b → emulator.c → emulator.a"]
    assert circles(graph, "core") == []
    assert graph[f"{ROOT}.emulator.d"] == {f"{ROOT}.emulator.a"}


def test_a_circle_across_packages_is_reported_at_the_top() -> None:
    graph = import_graph({
        f"{ROOT}.api.a": "from metorial_apply.cli import b\n",
        f"{ROOT}.cli.b": "import metorial_apply.api.a\n",
        f"{ROOT}.cli.c": "import metorial_apply.cli.c\nfrom metorial_apply.cli.d import e\n",
        f"{ROOT}.cli.d.__init__": "from .e import f\n",
        f"{ROOT}.cli.d.e": "from .. import c\n",
    })
    assert circles(graph, ROOT) == ["api.a → cli.b → api.a"]
    # `from metorial_apply.cli.d import e` reaches cli.d and cli.d.e; an import of itself is no edge
    assert circles(graph, "cli") == ["cli.c → cli.d.e → cli.c (one of the circles among cli.c, cli.d, cli.d.e)"]
    assert graph[f"{ROOT}.cli.c"] == {f"{ROOT}.cli.d", f"{ROOT}.cli.d.e"}
