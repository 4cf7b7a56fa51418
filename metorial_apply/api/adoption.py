"""The live side of `imports:` and `moved:`. Pure: given every listed object (ours by stamp,
and the rest by id), put adopted objects at their new address before names are resolved, so
references to an imported or moved resource read as its new name.

Checked here, because only the live lists can tell: an import id that exists nowhere, an id of
another kind (the lists of every kind are searched, so the message names its kind), an id we
already manage at another address, an address already held by another of our objects, and a
move onto an address that is already ours. An id we already manage at the import's address
makes the import a no-op (the block may stay after apply). An object stamped by another stack
becomes a `takeover`, which the planner refuses unless `--takeover` is given.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from metorial_apply.core.directives import Directives, Import, Move
from metorial_apply.core.errors import ConfigError, Diagnostic
from metorial_apply.core.kinds import KINDS
from metorial_apply.core.model import Address, Adoption, Stamp

Raw = dict[str, Any]


@dataclass(frozen=True)
class Unowned:
    """A live object our stack does not claim: unmanaged (`stamp` None) or another stack's."""

    kind: str
    obj: Raw
    stamp: Stamp | None

    @property
    def id(self) -> str:
        return str(self.obj["id"])

    @property
    def name(self) -> str:
        return str(self.obj.get("name") or "")


def unowned(listed: dict[str, list[Raw]], ours: set[str]) -> dict[str, Unowned]:
    """Every listed active object that is not ours, by id."""
    out: dict[str, Unowned] = {}
    for kind, objects in listed.items():
        for obj in objects:
            if not isinstance(obj.get("id"), str) or obj["id"] in ours or obj.get("status", "active") != "active":
                continue
            out[obj["id"]] = Unowned(kind, obj, Stamp.of(obj))
    return out


@dataclass(frozen=True)
class Claim:
    """One object at the address it will have after this plan (see live.Owned)."""

    address: Address
    stamp: Stamp | None
    obj: Raw
    adoption: Adoption | None = None


def _moved(claims: list[Claim], moves: tuple[Move, ...], problems: list[Diagnostic]) -> list[Claim]:
    held = {c.address for c in claims}
    by_source = {m.source: m for m in moves}
    out = []
    for c in claims:
        move = by_source.get(c.address)
        if move is None:
            out.append(c)
        elif move.to in held:
            problems.append(move.where.problem(
                f"cannot move {move.source} to {move.to}: {move.to} already exists in live state",
                f"remove the move, or remove {move.to} first"))
            out.append(c)
        else:
            out.append(replace(c, address=move.to, adoption=Adoption(action="move", other=str(move.source))))
    return out


def _import_problem(imp: Import, ours: dict[str, Claim], held: dict[Address, Claim],
                    others: dict[str, Unowned]) -> str | None:
    mine = ours.get(imp.id)
    if mine is not None:
        return None if mine.address == imp.to else \
            f"{imp.id} is already managed by this stack as {mine.address}; use moved: to change its address"
    found = others.get(imp.id)
    if found is None:
        return f"no {imp.to.kind.replace('_', ' ')} with id {imp.id} exists (searched every kind)"
    if found.kind != imp.to.kind:
        return f"{imp.id} is {KINDS[found.kind].label}, not {KINDS[imp.to.kind].label}"
    if imp.to in held:
        return f"{imp.to} is already managed by this stack (id {held[imp.to].obj['id']}); remove the import"
    return None


def _imported(claims: list[Claim], imports: tuple[Import, ...], others: dict[str, Unowned],
              problems: list[Diagnostic]) -> list[Claim]:
    ours = {str(c.obj["id"]): c for c in claims}
    held = {c.address: c for c in claims}
    out = list(claims)
    for imp in imports:
        problem = _import_problem(imp, ours, held, others)
        if problem:
            problems.append(imp.where.problem(problem))
            continue
        found = others.get(imp.id)
        if found is None:  # already ours at this address: the block is a no-op
            continue
        other = found.stamp.stack if found.stamp is not None else ""
        out.append(Claim(imp.to, None, found.obj, Adoption(action="takeover" if other else "import", other=other)))
    return out


def adopt(claims: list[Claim], directives: Directives, others: dict[str, Unowned]) -> list[Claim]:
    """Claims with moves and imports applied; raises ConfigError (positioned at the block entry)
    for every import or move the live state refuses."""
    if not directives:
        return claims
    problems: list[Diagnostic] = []
    claims = _imported(_moved(claims, directives.moves, problems), directives.imports, others, problems)
    if problems:
        raise ConfigError(problems)
    return claims
