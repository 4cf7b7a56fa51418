"""Which listed objects a stack owns, and at which address. Pure.

With an index (core/index.py) the index decides: what it lists is ours by id, with its facts,
whatever the object's metadata says now (a stamp removed or changed by hand plans as an update
that restores it). An object it does not list is ours only when its stamp names a run whose entry
is still open and the run's window or imports allow it (core/runs.py). Everything else carrying
our stamp is a look-alike: never adopted, never deleted, reported once in `ignored`.

Without an index a stack is read from its stamps alone (a stack from before the index; `index
rebuild` moves it over), unless some stamp carries a run id: then its index was deleted, and the
read stops with the advice to restore or rebuild it.

Without a signing key anyone could have written the index, so an entry whose object lacks this
stack's stamp is taken only when the configuration declares its address (then the stamp is
restored by an update), and never deleted.

Two objects at one address (a create whose response was lost and then sent again by something
that did not re-list first): the one the index lists keeps it, else the oldest (created_at, then
id); each extra one gets the address `<name>~<id>` and so plans as a delete ("duplicate of
<address>").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from metorial_apply.api.adoption import Claim as Owned
from metorial_apply.core.index import Index, IndexEntry, StackIndexError
from metorial_apply.core.kinds import KindSpec
from metorial_apply.core.lock import parse_time
from metorial_apply.core.model import NAME, Address, Adoption, Stamp

Raw = dict[str, Any]
REBUILD = "`metorial-apply index rebuild --stack {stack}`"


@dataclass(frozen=True)
class Ownership:
    """What decides ownership for one stack: its index (None: none yet), the last renewal of
    every lock record listed (by id), and the addresses the configuration declares."""

    stack: str
    index: Index | None = None
    renewed: Mapping[str, datetime | None] = field(default_factory=dict)
    declared: frozenset[str] | None = None
    entries: dict[str, IndexEntry] = field(default_factory=dict)
    held: frozenset[str] = frozenset()
    # Listed objects the index lists but the read left alone: their entries stay in the index as
    # they are (an untrusted entry is neither acted on nor forgotten).
    kept: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, stack: str, index: Index | None, renewed: Mapping[str, datetime | None],
           declared: frozenset[str] | None = None) -> Ownership:
        entries = index.by_id() if index is not None else {}
        return cls(stack, index, renewed, declared, entries, frozenset(e.stamp.address for e in entries.values()))


def our_address(text: str, kind: KindSpec) -> Address | None:
    """The stamp's address when it is `kind.name` of this kind with a valid name, else None."""
    try:
        address = Address.parse(text)
    except ValueError:
        return None
    return address if address.kind == kind.kind and NAME.fullmatch(address.name) else None


def claims(kind: KindSpec, objects: list[Raw], own: Ownership, ignored: list[str]) -> list[Owned]:
    """The objects of one kind the stack owns, at their addresses (duplicates renamed)."""
    groups: dict[str, list[Owned]] = {}
    for obj in objects:
        if not isinstance(obj.get("id"), str) or obj.get("status", "active") != "active":
            continue
        entry = own.entries.get(obj["id"])
        owned = _indexed(kind, obj, entry, own, ignored) if entry else _stamped(kind, obj, own, ignored)
        if owned is not None:
            groups.setdefault(str(owned.address), []).append(owned)
    out = []
    for members in groups.values():
        # The index's word beats a claim through an open run's window: a copy made in the window
        # (even before the indexed object) must not take its address and get it deleted.
        members.sort(key=lambda m: (m.obj["id"] not in own.entries, str(m.obj.get("created_at") or ""), m.obj["id"]))
        members = _unforgeable(members, own, ignored)
        out.append(members[0])
        out += [Owned(Address(kind=m.address.kind, name=f"{m.address.name}~{m.obj['id']}"), m.stamp, m.obj)
                for m in members[1:]]
    return out


def _unforgeable(members: list[Owned], own: Ownership, ignored: list[str]) -> list[Owned]:
    """Beside an object that carries our stamp, one held only by an unsigned index entry (anyone
    could have written it) is left alone: it neither displaces the stamped one nor is deleted as
    its duplicate."""
    if len(members) < 2 or own.index is None or own.index.signed:
        return members
    weak = [m for m in members if m.adoption is not None and m.adoption.other == "removed"]
    if len(weak) == len(members):
        return members
    own.kept.update(m.obj["id"] for m in weak)
    for m in weak:
        ignored.append(f"{m.obj['id']} is listed in the index of stack {own.stack!r} as {m.address} but not stamped, "
                       "and another object carries that stamp: left alone")
    return [m for m in members if m not in weak]


def _indexed(kind: KindSpec, obj: Raw, entry: IndexEntry, own: Ownership, ignored: list[str]) -> Owned | None:
    """An object the index lists: at the index's address, with the index's facts."""
    address = our_address(entry.stamp.address, kind)
    if address is None:
        ignored.append(f"the index lists {obj['id']} as {entry.stamp.address!r}, not a {kind.kind}: left alone")
        own.kept.add(obj["id"])
        return None
    stamp = Stamp.of(obj)
    if stamp is not None and stamp.stack == own.stack and stamp.__dict__ | {"run": None} == entry.stamp.__dict__:
        return Owned(address, entry.stamp, obj)
    removed = stamp is None or stamp.stack != own.stack
    if removed and own.index is not None and not own.index.signed and str(address) not in (own.declared or ()):
        ignored.append(f"{obj['id']} is listed in the index of stack {own.stack!r} as {address} but not stamped, and "
                       "the index is not signed: left alone")
        own.kept.add(obj["id"])
        return None
    return Owned(address, entry.stamp, obj, Adoption(action="restore", other="removed" if removed else "changed"))


def _stamped(kind: KindSpec, obj: Raw, own: Ownership, ignored: list[str]) -> Owned | None:
    """An object the index does not list, ours only by the rules of the module docstring."""
    stamp = Stamp.of(obj)
    if stamp is None or stamp.stack != own.stack:
        return None
    id, index = obj["id"], own.index
    if index is None and stamp.run is not None:
        raise StackIndexError(f"stack {own.stack!r} has no index, but {id} carries a stamp written by run "
                              f"{stamp.run[:64]!r}: the index records were deleted. Restore them, or run "
                              + REBUILD.format(stack=own.stack) + " to build it again from the stamps")
    address = our_address(stamp.address, kind)
    if address is None and _server_default(obj):
        return None
    if index is not None and not _claimed_by_open_run(obj, stamp, index, own):
        ignored.append(_look_alike(obj, stamp, index, own))
        return None
    if address is None:
        ignored.append(f"{id} in {kind.path} is stamped {stamp.address!r} for stack {own.stack!r}, "
                       f"which is not a {kind.kind} address: left alone")
        return None
    return Owned(address, stamp, obj)


def _server_default(obj: Raw) -> bool:
    """A default object the platform made for a deployment (an empty default config) copies the
    deployment's metadata, our stamp included (emulator/choices.py, Objects): `is_default` is
    set by the server only, so it is nobody's resource, neither ours nor a look-alike."""
    deployment = obj.get("deployment")
    return obj.get("is_default") is True and isinstance(deployment, dict) and isinstance(deployment.get("id"), str)


def _claimed_by_open_run(obj: Raw, stamp: Stamp, index: Index, own: Ownership) -> bool:
    return any(run.claims(obj, stamp, own.renewed.get(run.lock)) for run in index.open)


def _look_alike(obj: Raw, stamp: Stamp, index: Index, own: Ownership) -> str:
    where = f"{obj['id']} carries the stamp of stack {own.stack!r} for {stamp.address[:120]}"
    if stamp.address in own.held:
        return f"{where}, which the stack's index gives to another object: a look-alike, left alone"
    created, first = parse_time(obj.get("created_at")), parse_time(index.created_at)
    if stamp.run is None and created is not None and first is not None and created > first:
        return (f"{where} without a run id, made after the index was first written: written by an older "
                "metorial-apply or copied by hand; not claimed, left alone")
    return f"{where}, but the stack's index does not list it and no open run made it: a look-alike, left alone"
