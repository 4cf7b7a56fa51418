"""fetch_live: read every managed kind with one paginated list each, and every configured key
backend's keys (all concurrently), keep what our stack's stamp claims, and turn it into the same
State type as desired (api keys are ours by name: planning/keys.py).

Which objects are ours, and at which address, is api/ownership.py's: the stack's index when it
has one, else the stamps; a stamp copied or forged by hand is a look-alike, never adopted or
deleted, and reported once in `LiveRead.ignored` for the CLI to warn about.

With the configuration's `imports:` and `moved:` (adoption.py), adopted objects are placed at
their new address before ids are turned into names, and every object the stack does not claim
is kept by id in `LiveRead.others` (imports and the planner's look-alike notes use it), so no
extra GET is needed for them.

Objects the stack does not own are kept slim from the moment their page arrives (keep.py): an
organization's many other objects cost little memory. Only an object whose stamp was removed by
hand is fetched again, whole, once the index shows it is ours.

Stack lock records (session templates carrying `metorial-apply/lock`, see core/lock.py) and the
index's own records are dropped before anything else looks at the lists: they are never a resource, a duplicate, an
ignored stamp or an object counted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from metorial_apply.api.adoption import Claim as Owned
from metorial_apply.api.adoption import Unowned, adopt, unowned
from metorial_apply.api.client import MetorialClient
from metorial_apply.api.keep import Keeper, Names, Slim, whole_indexed
from metorial_apply.api.keys import KeyClients
from metorial_apply.api.ownership import Ownership, claims
from metorial_apply.api.tasks import gather_or_cancel
from metorial_apply.core.directives import Directives
from metorial_apply.core.index import Index, ShardsMissingError, is_index_record, read_index, strays
from metorial_apply.core.keys import LiveKey
from metorial_apply.core.kinds import CHILD_REFS, KINDS, METORIAL_KINDS, KindSpec, ref_name
from metorial_apply.core.lock import LockRecord, is_lock_record
from metorial_apply.core.model import Catalog, Defaults, Resource
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
    index: Index | None = None  # the stack's index as read (None: it has none)
    strays: tuple[str, ...] = ()  # shard records of the stack no head names (the next write archives them)
    kept: frozenset[str] = frozenset()  # ids the index lists that were left alone (their entries stay)

    def unindexed(self) -> bool:
        """A stack from before the index: objects stamped for it, and no index."""
        stack = self.state.stack
        return self.index is None and any(r.stamp is not None and r.stamp.stack == stack for r in self.state)

    def notes(self) -> tuple[str, ...]:
        """Warnings for people: what was left alone, and a stack read from its stamps alone."""
        stack = self.state.stack
        if not self.unindexed():
            return self.ignored
        return (*self.ignored, f"stack {stack!r} has no index yet (its objects are known by their stamps alone): "
                               f"apply refuses until `metorial-apply index rebuild --stack {stack}` has been run once")

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
    assert not isinstance(owned.obj, Slim), f"{owned.obj.get('id')} was kept slim, yet is ours"  # keep.py's job
    kind = KINDS[owned.address.kind]
    stamp = owned.stamp
    return Resource(
        address=owned.address, spec=kind.from_api(owned.obj, names), id=owned.obj["id"], stamp=stamp,
        fingerprint=object_fingerprint(owned.obj), children=_children(kind, owned.obj, names),
        protect=bool(stamp and stamp.protect), sensitive=frozenset((stamp.sensitive if stamp else None) or ()),
        adoption=owned.adoption,
    )


def live_state(stack: str, catalog: Catalog, listed: dict[str, list[Raw]],
               directives: Directives | None = None, index_key: bytes | None = None,
               declared: frozenset[str] | None = None) -> LiveRead:
    """Pure core of fetch_live: listed objects per kind → our stack's live State, with the
    desired `directives` (imports, moves) applied (see adoption.py). The stack's index, when it
    has one (`index_key` verifies its signature), decides what is ours (api/ownership.py);
    `declared` are the configuration's addresses."""
    templates = listed.get("session_template", [])
    index = read_index(stack, templates, index_key)
    renewed = {r.id: r.updated_at for r in (LockRecord.from_api(o) for o in templates) if r is not None}
    listed = {kind: [o for o in objects if not is_lock_record(o) and not is_index_record(o)]
              for kind, objects in listed.items()}
    ignored: list[str] = []
    own = Ownership.of(stack, index, renewed, declared)
    owned = [o for kind in METORIAL_KINDS.values() for o in claims(kind, listed.get(kind.kind, []), own, ignored)]
    others = unowned(listed, {o.obj["id"] for o in owned})
    owned = adopt(owned, directives or Directives(), others)
    taken = {o.obj["id"] for o in owned if o.adoption is not None}
    names = LiveNames(
        ids={(o.address.kind, o.obj["id"]): o.address.name for o in owned},
        slugs={p.id: p.slug for p in catalog.providers},
    )
    resources = [to_resource(o, names) for o in owned]
    total = sum(len(v) for v in listed.values())
    state = State.of(stack, resources).model_copy(update={"bound": bindings(owned, listed),
                                                          "template_users": template_users(owned, listed)})
    return LiveRead(state=state, ignored=tuple(sorted(set(ignored))), objects=total,
                    defaults=deployment_defaults(owned, listed.get("auth_config", [])),
                    others={i: o for i, o in others.items() if i not in taken}, index=index,
                    strays=strays(stack, templates, index), kept=frozenset(own.kept))


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


def template_users(owned: list[Owned], listed: dict[str, list[Raw]]) -> dict[str, tuple[str, ...]]:
    """Our auth configs' ids → the active session templates not ours whose active providers use
    them; ours are not counted, since the plan lets go of an auth config before deleting it."""
    ours = {o.obj["id"] for o in owned if o.address.kind == "auth_config"}
    mine = {o.obj["id"] for o in owned}
    out: dict[str, set[str]] = {}
    for template in listed.get("session_template", []):
        id = template.get("id")
        if not isinstance(id, str) or id in mine or template.get("status", "active") != "active":
            continue
        for provider in template.get("providers") or []:
            link = provider.get("auth_config") if isinstance(provider, dict) else None
            target = link.get("id") if isinstance(link, dict) else None
            if target in ours and provider.get("status", "active") == "active":
                out.setdefault(target, set()).add(id)
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
                    keys: KeyClients | None = None, *, index_key: bytes | None = None,
                    declared: frozenset[str] | None = None, names: Names | None = None,
                    from_index: frozenset[str] = frozenset()) -> LiveRead:
    """One paginated list per Metorial kind (from both ends) and one key list per configured key backend, all
    concurrently, into one State; never one GET per resource (see `live_state` for the rest).
    `names`: the configuration's (kind, name) pairs, the only names of others a plan notes.
    `from_index`: key backends not read (plan without their credentials), whose keys of ours are
    taken from the stack index instead."""
    keeper = Keeper(stack, frozenset(i.id for i in (directives or Directives()).imports), names)
    listed, found = await gather_or_cancel(_listed(client, keeper), read_keys(keys) if keys is not None else _nothing())
    try:
        listed = await whole_indexed(client, listed, stack, index_key, declared)
        read = live_state(stack, catalog, listed, directives, index_key, declared)
    except ShardsMissingError:  # a writer may be between its new shards and the head: list once more
        listed = await whole_indexed(client, await _listed(client, keeper), stack, index_key, declared)
        read = live_state(stack, catalog, listed, directives, index_key, declared)
    if keys is not None or from_index:
        recorded = indexed_keys(read.index, from_index)
        update = {"keys": (*(found or ()), *recorded), "unread_backends": from_index}
        read = dataclasses.replace(read, state=read.state.model_copy(update=update))
    log.debug("live read: %d objects listed, %d ours in stack %s, %d ignored",
              read.objects, len(read.state), stack, len(read.ignored))
    return read


async def _listed(client: MetorialClient, keeper: Keeper) -> dict[str, list[Raw]]:
    """Every Metorial kind's list, by kind, as `keeper` keeps each page (api/keep.py); each kind
    read from both ends at once (api/ends.py): the largest kind's pages in a row are the floor
    of a live read."""
    paths = {kind.path: kind.kind for kind in METORIAL_KINDS.values()}
    listed = await client.list_many(paths, keep=keeper.page, ends=True)
    return {paths[p]: items for p, items in listed.items()}


async def _nothing() -> None:
    return None


async def read_keys(clients: KeyClients) -> tuple[LiveKey, ...]:
    """Every key of every backend (concurrently), by backend then listing order: each backend is
    listed once per run, foreign keys too (they count towards its limit)."""
    names = sorted(clients)
    lists = await gather_or_cancel(*(clients[n].list_keys() for n in names))
    return tuple(key for found in lists for key in found)


def indexed_keys(index: Index | None, backends: frozenset[str]) -> tuple[LiveKey, ...]:
    """Our keys of `backends` as the stack index records them: what a plan reads in place of the
    backend's list (a stack without an index has none yet). `id` is the name: a key is never
    deleted from this record, since apply lists the backend again."""
    return tuple(LiveKey(backend=k.backend, name=k.name, identity=k.identity, id=k.name, created=k.created,
                         key_for=k.key_for) for k in (index.keys if index else ()) if k.backend in backends)


async def fetch_live(client: MetorialClient, stack: str, catalog: Catalog) -> State:
    """Our stack's live State (see `read_live` for what is left alone and why)."""
    return (await read_live(client, stack, catalog)).state
