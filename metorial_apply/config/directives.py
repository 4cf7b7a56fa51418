"""The `imports:`, `moved:` and `removed:` blocks: read with positions, checked against the
declared resources before any network (malformed entries, two imports to one address, an
import to an undeclared address, a move from a still-declared address, two moves to one
address, move cycles, a removal of a still-declared address). Chains of moves are followed
here, so every Move holds its final address."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from metorial_apply.config.interpolate import InterpolationError, Sources, Variable, interpolate
from metorial_apply.config.variables import Source
from metorial_apply.config.yamlsource import YamlPath, diagnostic, format_path
from metorial_apply.core.directives import Directives, Import, Move, Removal, Where
from metorial_apply.core.errors import Diagnostic
from metorial_apply.core.kinds import METORIAL_KINDS
from metorial_apply.core.model import NAME, Address

BLOCKS = {"imports": ("to", "id"), "moved": ("from", "to"), "removed": ("from",)}
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
EXAMPLES = {"imports": "{to: deployment.github, id: pde_…}", "moved": "{from: deployment.gh, to: deployment.github}",
            "removed": "{from: deployment.old}"}


@dataclass(frozen=True)
class Raw:
    """One well-formed entry of a block before the cross-entry checks."""

    block: str
    fields: dict[str, str]
    where: Where


def _where(source: Source, path: YamlPath) -> Where:
    pos = source.doc.value_pos(path)
    return Where(file=pos.file, line=pos.line, path=format_path(path))


def _address(text: str) -> Address | None:
    try:
        address = Address.parse(text)
    except ValueError:
        return None
    return address if address.kind in METORIAL_KINDS and NAME.fullmatch(address.name) else None


def _entry_problem(block: str, item: Any) -> str | None:
    want = BLOCKS[block]
    if not isinstance(item, dict):
        return f"each {block} entry must be a mapping like {EXAMPLES[block]}"
    extra = sorted(str(k) for k in item if k not in want)
    missing = [k for k in want if k not in item]
    if extra or missing:
        parts = ([f"unknown field {', '.join(extra)}"] if extra else []) + (
            [f"missing {', '.join(missing)}"] if missing else [])
        return f"{'; '.join(parts)} (want {EXAMPLES[block]})"
    for key in want:
        value = item[key]
        if not isinstance(value, str):
            return f"{key} must be a string"
        if key == "id" and not ID.fullmatch(value):
            return f"id {value!r} is not an API id (letters, digits, _ and -)"
        if key != "id" and _address(value) is None:
            return f"{key} {value!r} is not an address (want kind.name, kinds: {', '.join(METORIAL_KINDS)})"
    return None


def _import_id(item: Any, source: Source, variables: Mapping[str, Variable], lenient: bool) -> Any | Diagnostic:
    """An import's `id` with `${var.NAME}` filled in, so one base serves environments whose ids
    differ (each var file gives its own); "" means this environment imports nothing there. The
    variables must not be secret: ids are printed in every plan."""
    value = item.get("id") if isinstance(item, dict) else None
    if not isinstance(value, str) or "${" not in value:
        return value
    try:
        found = interpolate(value, Sources({}, variables, source.read_file, lenient))
    except InterpolationError as exc:
        return Diagnostic(exc.message, hint=exc.hint)
    if found.sensitive:
        return Diagnostic("an import id may not come from a secret (a variable fed by ${env:} or ${file:})",
                          hint="write the id, or a ${var.NAME} set in a var file")
    return "" if found.absent else found.value


def read_blocks(sources: Iterable[Source], variables: Mapping[str, Variable] | None = None,
                lenient: bool = False) -> tuple[list[Raw], list[Diagnostic]]:
    """Every entry of every block in every file, malformed ones reported at their line; an import
    whose id comes out empty is left out (see _import_id)."""
    out, problems = [], []
    for source in sources:
        data = source.doc.data if isinstance(source.doc.data, dict) else {}
        for block in BLOCKS:
            items = data.get(block)
            if items is None:
                continue
            if not isinstance(items, list):
                problems.append(diagnostic(source.doc.value_pos((block,)), (block,),
                                           f"{block} must be a list like [{EXAMPLES[block]}]"))
                continue
            for i, item in enumerate(items):
                where = _where(source, (block, i))
                if block == "imports" and variables is not None:
                    found = _import_id(item, source, variables, lenient)
                    if isinstance(found, Diagnostic):
                        problems.append(where.problem(f"id: {found.message}", found.hint))
                        continue
                    if found == "":
                        continue
                    item = {**item, "id": found} if isinstance(item, dict) and "id" in item else item
                problem = _entry_problem(block, item)
                if problem:
                    problems.append(where.problem(problem))
                else:
                    out.append(Raw(block, dict(item), where))
    return out, problems


def _imports(raws: list[Raw], declared: set[Address]) -> tuple[list[Import], list[Diagnostic]]:
    out: list[Import] = []
    problems: list[Diagnostic] = []
    first: dict[Address, Where] = {}
    ids: dict[str, tuple[Address, Where]] = {}  # imports are one-to-one both ways
    for raw in (r for r in raws if r.block == "imports"):
        to, id = Address.parse(raw.fields["to"]), raw.fields["id"]
        if to in first:
            problems.append(raw.where.problem(f"two imports to {to}: here and at {_at(first[to])}",
                                              "one live object per address; remove one"))
        elif id in ids:
            other, where = ids[id]
            problems.append(raw.where.problem(f"{id} is imported twice: to {to} here and to {other} at {_at(where)}",
                                              "one address per live object; remove one"))
        elif to not in declared:
            problems.append(raw.where.problem(f"import to {to}, which the configuration does not declare",
                                              f"declare {to} (its fields as they should be) beside the import"))
        else:
            first[to], ids[id] = raw.where, (to, raw.where)
            out.append(Import(to=to, id=id, where=raw.where))
    return out, problems


def _at(where: Where) -> str:
    return f"{where.file}:{where.line}"


def _moves(raws: list[Raw], declared: set[Address]) -> tuple[list[Move], list[Diagnostic]]:
    """Moves with chains followed (a→b, b→c gives a→c and b→c); cycles and clashes are problems."""
    step: dict[Address, tuple[Address, Where]] = {}
    targets: dict[Address, Where] = {}
    problems: list[Diagnostic] = []
    for raw in (r for r in raws if r.block == "moved"):
        source, to = Address.parse(raw.fields["from"]), Address.parse(raw.fields["to"])
        problem = _move_problem(source, to, declared, step, targets)
        if problem:
            problems.append(raw.where.problem(*problem))
            continue
        step[source], targets[to] = (to, raw.where), raw.where
    out = []
    for source, (to, where) in step.items():
        seen = [source]
        while to in step and to not in seen:
            seen.append(to)
            to = step[to][0]
        if to in seen:
            problems.append(where.problem("moves form a cycle: " + " → ".join(map(str, [*seen, to]))))
        elif to not in declared:
            problems.append(where.problem(f"move to {to}, which the configuration does not declare",
                                          f"declare {to}, or fix the move"))
        else:
            out.append(Move(source=source, to=to, where=where))
    return out, problems


def _move_problem(source: Address, to: Address, declared: set[Address], step: dict[Address, Any],
                  targets: dict[Address, Where]) -> tuple[str, str] | None:
    if source.kind != to.kind:
        return f"cannot move {source} to {to}: the kind differs", "a move keeps the object, so its kind stays"
    if source == to:
        return f"move from {source} to itself", "remove the entry"
    if source in declared:
        return (f"moved from {source}, which the configuration still declares",
                f"rename it to {to.name} in the configuration (a move means the old address is gone)")
    if source in step:
        return f"{source} is moved twice", "one move per old address"
    if to in targets:
        return f"two moves to {to}: here and at {_at(targets[to])}", "one old address per new address"
    return None


def _removals(raws: list[Raw], declared: set[Address], moved: set[Address]) -> tuple[list[Removal], list[Diagnostic]]:
    out, problems, seen = [], [], set()
    for raw in (r for r in raws if r.block == "removed"):
        source = Address.parse(raw.fields["from"])
        if source in declared:
            problems.append(raw.where.problem(f"removed {source}, which the configuration still declares",
                                              "delete its definition too (removed: stops managing it)"))
        elif source in moved or source in seen:
            problems.append(raw.where.problem(f"{source} is both moved or removed more than once"))
        else:
            seen.add(source)
            out.append(Removal(source=source, where=raw.where))
    return out, problems


def read_directives(sources: Iterable[Source], declared: set[Address], variables: Mapping[str, Variable] | None = None,
                    lenient: bool = False) -> tuple[Directives, list[Diagnostic]]:
    """The three blocks across files, checked against the declared addresses (import ids may
    use `variables`)."""
    raws, problems = read_blocks(sources, variables, lenient)
    imports, more = _imports(raws, declared)
    moves, more2 = _moves(raws, declared)
    removals, more3 = _removals(raws, declared, {m.source for m in moves})
    return Directives(imports=tuple(imports), moves=tuple(moves), removals=tuple(removals)), \
        problems + more + more2 + more3
