"""Adoption checks and notes around the planner: imported secrets, imports that would need a
replace, takeovers without `--takeover`, and look-alike notes for creates. Pure."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from metorial_apply.core.errors import ConfigError, PlanError
from metorial_apply.core.kinds import KindSpec, sort_key
from metorial_apply.core.model import Address, Resource
from metorial_apply.core.state import State
from metorial_apply.planning.action import Action, Note
from metorial_apply.planning.change import Change
from metorial_apply.planning.diff import NAMING_NEEDS_KEY, Comparison


def imported_secret(kind: KindSpec, d: Resource, lv: Resource, c: Comparison) -> Comparison:
    """An imported object's write-only value is not in its GET. A kind that can PATCH it gets the
    configured value sent with the import; otherwise the configured value is taken as the live
    one (sending it would mean a replace). Either way it is compared from now on."""
    if lv.adoption is None or lv.adoption.action in ("move", "restore") or d.secret is None:
        return c
    fields = ", ".join(kind.secret_fields)
    if kind.secret_patchable:
        note = f"{fields} cannot be read from the API: the import sends the configured value, compared from now on"
        return dataclasses.replace(c, notes=_kept(c) + (note,))
    note = (f"{fields} cannot be read from the API: the configured value is taken as the live one and compared "
            f"from now on; {kind.label} cannot PATCH its {fields}, so the next change to it replaces the object")
    return dataclasses.replace(c, secret_changed=False, diffs=tuple(x for x in c.diffs if not x.secret),
                               notes=_kept(c) + (note,))


def _kept(c: Comparison) -> tuple[str, ...]:
    # Without a stamp there is no per-key fingerprint to name a key by: that hint says nothing here.
    return tuple(n for n in c.notes if n != NAMING_NEEDS_KEY)


def check_adoptions(have: dict[Address, Resource], replaced: dict[Address, str]) -> None:
    """An import that would need a replace would delete the very object it adopts: refuse it."""
    bad = [f"{a} ({have[a].id}): {replaced[a]}" for a in sorted(replaced, key=sort_key)
           if have[a].adoption is not None and have[a].adoption.action in ("import", "takeover")]  # type: ignore[union-attr]
    if bad:
        raise PlanError("cannot import, the object would be replaced: " + "; ".join(bad)
                        + ". Make the YAML's create-only fields match the live object (and import what it "
                        "references), or drop the import")


def check_takeovers(changes: Iterable[Change], desired: State, allowed: bool) -> None:
    """Importing an object another stack's stamp claims is an error unless `--takeover` is given."""
    where = {i.to: i.where for i in desired.directives.imports}
    found = [c for c in changes if c.action is Action.TAKEOVER]
    if found and not allowed:
        raise ConfigError([where[c.address].problem(
            f"{c.id} is managed by stack {_other(c)!r}; importing it takes it away from that stack",
            "pass --takeover to take it over") for c in found])


def _other(c: Change) -> str:
    return c.live.adoption.other if c.live is not None and c.live.adoption is not None else ""


def lookalike_notes(changes: Iterable[Change], unmanaged: Mapping[tuple[str, str], tuple[str, ...]]) -> list[Note]:
    """A create whose kind and name match an unmanaged live object: say how to adopt it instead."""
    out = []
    for c in changes:
        name = (c.desired.spec.get("name") if c.desired else None) or c.address.name
        ids = unmanaged.get((c.address.kind, name)) if c.action is Action.CREATE else None
        if ids:
            words = c.address.kind.replace("_", " ")
            out.append(Note(address=c.address, text=(
                f"an unmanaged {words} named {name} exists ({', '.join(ids)}); to adopt it, add "
                f"`imports: [{{to: {c.address}, id: {ids[0]}}}]`")))
    return out
