"""fetch_live: read every managed kind with one paginated list each, and every configured key
backend's keys (all concurrently), keep what our stack's stamp claims, and turn it into the same
State type as desired (api keys are ours by name: planning/keys.py).

Ownership is the stamp alone (names are not unique, there is no idempotency key). Two odd
cases, both possible only after a crash or a hand edit:
- two live objects stamped with one address (a create whose response was lost, then sent
  again by something that did not re-list first): the oldest (created_at, then id) keeps the
  address; each extra one gets the address `<name>~<id>` and so plans as a delete, with the
  reason "duplicate of <address>" (build_plan reads the stamp). Keeping the oldest keeps the
  object dependents were most likely pointed at.
- an object stamped for our stack with a foreign address — not `kind.name` of this list's
  kind with a name the config could declare: our applier never writes such a stamp, so it was
  copied or forged by hand (any key of the organization can write metadata); it is never
  adopted or deleted, and reported once in `LiveRead.ignored` for the CLI to warn about.

With the configuration's `imports:` and `moved:` (adoption.py), adopted objects are placed at
their new address before ids are turned into names, and every object the stack does not claim
is kept by id in `LiveRead.others` (imports and the planner's look-alike notes use it), so no
extra GET is ever needed.

Stack lock records (session templates carrying `metorial-apply/lock`, see core/lock.py) are
dropped before anything else looks at the lists: they are never a resource, a duplicate, an
ignored stamp or an object counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metorial_apply.api.adoption import Claim as Owned
from metorial_apply.api.adoption import Unowned, adopt, unowned
from metorial_apply.api.client import MetorialClient
from metorial_apply.api.keys import KeyClients
from metorial_apply.core.directives import Directives
from metorial_apply.core.index import IndexEntry, ShardsMissingError, is_index_record, read_index
from metorial_apply.core.keys import LiveKey
from metorial_apply.core.kinds import CHILD_REFS, KINDS, METORIAL_KINDS, KindSpec, ref_name
from metorial_apply.core.lock import is_lock_record
from metorial_apply.core.model import NAME, Address, Adoption, Catalog, Defaults, Resource, Stamp
from metorial_apply.core.state import State

log = logging.getLogger(__name__)

Raw = dict[str, Any]


@dataclass(frozen=True)
class LiveNames:
    """Names for ids in API objects: our resources by stamp, providers by catalog slug."""

    ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, id) → name
    slugs: dict[str, str] = field(default_factory=dict)  # provider id → slug

    def name_of(self, kind: str, id: str) -> str:
        return self.ids.get((kind, id), id)

    def provider_slug(self, provider_id: str) -> str:
        return self.slugs.get(provider_id, provider_id)


@dataclass(frozen=True)
class LiveRead:
    """The live State plus what was seen but deliberately left alone."""

    state: State
    ignored: tuple[str, ...] = ()
    objects: int = 0  # objects listed across kinds (ours or not)
    defaults: Defaults = field(default_factory=lambda: Defaults())  # what our live deployments have
    # Active objects this stack does not claim (unmanaged, or another stack's), by id: what
    # imports adopt and the planner's look-alike notes point at.
    others: dict[str, Unowned] = field(default_factory=dict)

    def unmanaged(self) -> dict[tuple[str, str], tuple[str, ...]]:
        """(kind, name) → ids of unstamped live objects with that name: for look-alike notes."""
        out: dict[tuple[str, str], list[str]] = {}
        for o in self.others.values():
            if o.stamp is None and o.name:
                out.setdefault((o.kind, o.name), []).append(o.id)
        return {k: tuple(sorted(v)) for k, v in out.items()}


def object_fingerprint(obj: Raw) -> str:
    """sha256 of the canonical JSON of an API object: any change to it moves the fingerprint."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _indexed(kind: KindSpec, objects: list[Raw], stack: str, entries: Mapping[str, IndexEntry],
             ignored: list[str]) -> list[Owned]:
    """Objects of one kind the stack's index lists, at the index's address and with the index's
    facts, whatever their metadata says now; one whose stamp was removed or changed is restored."""
    out = []
    for obj in objects:
        entry = entries.get(obj.get("id"))  # type: ignore[arg-type]
        if entry is None or obj.get("status", "active") != "active":
            continue
        address = _our_address(entry.stamp.address, kind)
        if address is None:
            ignored.append(f"the index lists {obj['id']} as {entry.stamp.address!r}, not a {kind.kind}: left alone")
            continue
        own = Stamp.of(obj)
        state = None if own == entry.stamp else ("removed" if own is None or own.stack != stack else "changed")
        out.append(Owned(address, entry.stamp, obj, Adoption(action="restore", other=state) if state else None))
    return out


def _claims(kind: KindSpec, objects: list[Raw], stack: str, ignored: list[str],
            entries: Mapping[str, IndexEntry] | None = None, held: frozenset[str] = frozenset()) -> list[Owned]:
    """Objects of one kind stamped for `stack`, duplicates renamed `<name>~<id>` (oldest wins). With
    an index (`entries` by id, `held` its addresses), what it lists is ours by id, and an unlisted
    object stamped with an address it gives to another object is a look-alike: reported, never
    adopted or deleted."""
    out = _indexed(kind, objects, stack, entries, ignored) if entries else []
    objects = [o for o in objects if o.get("id") not in (entries or {})]
    groups: dict[str, list[tuple[Stamp, Raw]]] = {}
    for obj in objects:
        stamp = Stamp.of(obj)
        if stamp is None or stamp.stack != stack or not isinstance(obj.get("id"), str):
            continue
        if stamp.address in held:
            ignored.append(f"{obj['id']} carries stack {stack!r}'s stamp for {stamp.address}, which the stack's "
                           "index gives to another object: a look-alike, left alone")
            continue
        address = _our_address(stamp.address, kind)
        if address is None:
            ignored.append(f"{obj['id']} in {kind.path} is stamped {stamp.address!r} for stack {stack!r}, "
                           f"which is not a {kind.kind} address: left alone")
            continue
        groups.setdefault(stamp.address, []).append((stamp, obj))
    for text, members in groups.items():
        members.sort(key=lambda m: (str(m[1].get("created_at") or ""), m[1]["id"]))
        address = Address.parse(text)
        out.append(Owned(address, members[0][0], members[0][1]))
        out += [Owned(Address(kind=address.kind, name=f"{address.name}~{obj['id']}"), stamp, obj)
                for stamp, obj in members[1:]]
    return out


def _our_address(text: str, kind: KindSpec) -> Address | None:
    """The stamp's address when it is `kind.name` of this kind with a valid name, else None."""
    try:
        address = Address.parse(text)
    except ValueError:
        return None
    return address if address.kind == kind.kind and NAME.fullmatch(address.name) else None


def _children(kind: KindSpec, obj: Raw, names: LiveNames) -> dict[str, str]:
    """Sub-resource ids by key (template providers: deployment name → stp id), active only."""
    child = kind.children
    if child is None:
        return {}
    out: dict[str, str] = {}
    for item in obj.get(child.field) or []:
        key = ref_name(names, CHILD_REFS.get(child.key, child.key), item.get(child.key))
        if key and isinstance(item.get("id"), str) and item.get("status", "active") == "active":
            out[key] = item["id"]
    return out


def to_resource(owned: Owned, names: LiveNames) -> Resource:
    kind = KINDS[owned.address.kind]
    stamp = owned.stamp
    return Resource(
        address=owned.address, spec=kind.from_api(owned.obj, names), id=owned.obj["id"], stamp=stamp,
        fingerprint=object_fingerprint(owned.obj), children=_children(kind, owned.obj, names),
        protect=bool(stamp and stamp.protect), sensitive=frozenset((stamp.sensitive if stamp else None) or ()),
        adoption=owned.adoption,
    )


def live_state(stack: str, catalog: Catalog, listed: dict[str, list[Raw]],
               directives: Directives | None = None, index_key: bytes | None = None) -> LiveRead:
    """Pure core of fetch_live: listed objects per kind → our stack's live State, with the
    desired `directives` (imports, moves) applied (see adoption.py). When the stack has an index
    (core/index.py; `index_key` verifies its signature) it decides what is ours."""
    index = read_index(stack, listed.get("session_template", []), index_key)
    listed = {kind: [o for o in objects if not is_lock_record(o) and not is_index_record(o)]
              for kind, objects in listed.items()}
    ignored: list[str] = []
    entries = index.by_id() if index is not None else {}
    held = frozenset(e.stamp.address for e in entries.values())
    owned = [o for kind in METORIAL_KINDS.values()
             for o in _claims(kind, listed.get(kind.kind, []), stack, ignored, entries, held)]
    others = unowned(listed, {o.obj["id"] for o in owned})
    owned = adopt(owned, directives or Directives(), others)
    taken = {o.obj["id"] for o in owned if o.adoption is not None}
    names = LiveNames(
        ids={(o.address.kind, o.obj["id"]): o.address.name for o in owned},
        slugs={p.id: p.slug for p in catalog.providers},
    )
    resources = [to_resource(o, names) for o in owned]
    total = sum(len(v) for v in listed.values())
    state = State.of(stack, resources).model_copy(update={"bound": bindings(owned, listed)})
    return LiveRead(state=state, ignored=tuple(sorted(set(ignored))), objects=total,
                    defaults=deployment_defaults(owned, listed.get("auth_config", [])),
                    others={i: o for i, o in others.items() if i not in taken})


def bindings(owned: list[Owned], listed: dict[str, list[Raw]]) -> dict[str, tuple[str, ...]]:
    """Our object's id → the active objects bound to it that cannot move (KindSpec.bound_by)."""
    ours = {o.obj["id"] for o in owned if KINDS[o.address.kind].bound_by}
    out: dict[str, list[str]] = {}
    for binder, link in {k.bound_by for k in METORIAL_KINDS.values() if k.bound_by is not None}:
        for obj in listed.get(binder, []):
            ref = obj.get(link)
            target = ref.get("id") if isinstance(ref, dict) else None
            if target in ours and obj.get("status", "active") == "active" and isinstance(obj.get("id"), str):
                out.setdefault(target, []).append(obj["id"])
    return {target: tuple(sorted(ids)) for target, ids in out.items()}


def deployment_defaults(owned: list[Owned], auth_configs: list[Raw]) -> Defaults:
    """Our deployments that have a default config (the deployment object says) or a default auth
    config (an active auth config marked `is_default` on it): template providers may omit those."""
    deployments = [o for o in owned if o.address.kind == "deployment"]
    ours = {o.obj["id"]: o.address.name for o in deployments}
    configs = {o.address.name for o in deployments if o.obj.get("default_config")}
    auths = {ours[d] for a in auth_configs if a.get("is_default") and a.get("status", "active") == "active"
             and (d := (a.get("deployment") or {}).get("id")) in ours}
    return Defaults(config=frozenset(configs), auth_config=frozenset(auths))


async def read_live(client: MetorialClient, stack: str, catalog: Catalog, directives: Directives | None = None,
                    keys: KeyClients | None = None) -> LiveRead:
    """One paginated list per Metorial kind and one key list per configured key backend, all
    concurrently, into one State; never one GET per resource."""
    paths = {kind.path: kind.kind for kind in METORIAL_KINDS.values()}
    by_path, found = await asyncio.gather(client.list_many(paths), read_keys(keys) if keys is not None else _nothing())
    listed = {paths[p]: items for p, items in by_path.items()}
    try:
        read = live_state(stack, catalog, listed, directives)
    except ShardsMissingError:  # a writer may be between its new shards and the head: list once more
        listed = {paths[p]: items for p, items in (await client.list_many(paths)).items()}
        read = live_state(stack, catalog, listed, directives)
    if keys is not None:
        read = dataclasses.replace(read, state=read.state.model_copy(update={"keys": found}))
    log.debug("live read: %d objects listed, %d ours in stack %s, %d ignored",
              read.objects, len(read.state), stack, len(read.ignored))
    return read


async def _nothing() -> None:
    return None


async def read_keys(clients: KeyClients) -> tuple[LiveKey, ...]:
    """Every key of every backend (concurrently), by backend then listing order: each backend is
    listed once per run, foreign keys too (they count towards its limit)."""
    names = sorted(clients)
    lists = await asyncio.gather(*(clients[n].list_keys() for n in names))
    return tuple(key for found in lists for key in found)


async def fetch_live(client: MetorialClient, stack: str, catalog: Catalog) -> State:
    """Our stack's live State (see `read_live` for what is left alone and why)."""
    return (await read_live(client, stack, catalog)).state
