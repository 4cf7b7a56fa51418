"""What the live read keeps of each listed object, decided as its page arrives, so that an
organization's (or a hostile server's) many objects that are not ours cost little memory:
200,000 listed deployments parse into about 330 MB of dicts, their slim forms (most of them an
id alone) into about 50 MB.

Kept whole: objects stamped for this stack, lock and index records (the lock's renewals and
the index are read from them) and the objects the configuration imports. Of any other object
only what the read needs is kept, as a `Slim` dict (see `slim`): its id, a status other than
active, its name only when the configuration has a resource of that kind and name (look-alike
notes), and the few fields live.bindings, live.deployment_defaults and live.template_users follow
(a template's providers as their auth config links, at most MAX_FOLLOWED_LINKS in one read).

One case needs more: the stack's index lists an object whose stamp was removed or changed by
hand (it plans as an update that restores the stamp, from the whole object). The index is
known only once every page is in, so `whole_indexed` then fetches those few objects by id:
only the ones ownership.py would take (a signed index, or an address the configuration
declares), so a forged index cannot make a run fetch more than the configuration names.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metorial_apply.api.client import MetorialClient
from metorial_apply.api.ownership import our_address
from metorial_apply.core.errors import GoneError, NotFoundError
from metorial_apply.core.index import is_index_record, read_index
from metorial_apply.core.kinds import KINDS, METORIAL_KINDS
from metorial_apply.core.lock import is_lock_record
from metorial_apply.core.model import STAMP_KEYS, STAMP_PREFIX, Stamp

Raw = dict[str, Any]
# What live.py reads of objects it does not own, beyond id, status and name: an auth config's
# `is_default` and `deployment.id` (deployment_defaults), a bound_by binder's link (bindings).
def _followed() -> dict[str, frozenset[str]]:
    out = {"auth_config": frozenset({"is_default", "deployment"})}
    for kind in METORIAL_KINDS.values():
        if kind.bound_by is not None:
            binder, link = kind.bound_by
            out[binder] = out.get(binder, frozenset()) | {link}
    return out


FOLLOWED = _followed()
STAMP_IDENTITY = tuple(STAMP_PREFIX + k for k in STAMP_KEYS[:3])  # what makes Stamp.of() a stamp
Names = frozenset[tuple[str, str]]  # (kind, name) a plan could note a look-alike of


class Slim(dict[str, Any]):
    """The part of a listed object the live read keeps when the object is not ours."""

    __slots__ = ()


def slim(kind: str | None, obj: Raw, names: Names | None, links: LinkBudget | None = None) -> Slim:
    """`obj` cut to what the read needs: its id; its status unless active (absent reads as
    active); its name (and whether it carries a stamp) only when a look-alike note could name
    it; and the fields FOLLOWED reads, links as `{"id": …}`."""
    out = Slim()
    if "id" in obj:
        out["id"] = obj["id"]
    if obj.get("status", "active") != "active":
        out["status"] = obj["status"]
    name = obj.get("name")
    metadata = obj.get("metadata")
    if name and (names is None or (isinstance(name, str) and (kind, name) in names)):
        out["name"] = name
        if Stamp.of(obj) is not None and isinstance(metadata, dict):
            out["metadata"] = {k: metadata[k] for k in STAMP_IDENTITY}
    for field in FOLLOWED.get(kind or "", ()):
        value = obj.get(field)
        if isinstance(value, dict):
            out[field] = {"id": value.get("id")}
        elif value is not None:
            out[field] = value
    if kind == "session_template" and links is not None and isinstance(obj.get("providers"), list):
        out["providers"] = provider_links(obj["providers"], links)
    return out


MAX_FOLLOWED_PROVIDERS = 100  # the platform's cap per template: a hostile list is not kept whole
# Links kept per live read, at most (about 4 MB): past them a delete's note on the templates
# outside the stack it strips (live.template_users) names only those seen so far.
MAX_FOLLOWED_LINKS = 10_000


@dataclass
class LinkBudget:
    """How many template-provider links a live read may still keep of templates not ours."""

    left: int = MAX_FOLLOWED_LINKS


def provider_links(providers: list[Any], links: LinkBudget) -> list[Raw]:
    """A template's active providers cut to their auth config link (live.template_users)."""
    out: list[Raw] = []
    for p in providers[:MAX_FOLLOWED_PROVIDERS]:
        link = p.get("auth_config") if isinstance(p, dict) and p.get("status", "active") == "active" else None
        if links.left > 0 and isinstance(link, dict) and isinstance(link.get("id"), str):
            out.append({"auth_config": {"id": link["id"]}})
            links.left -= 1
    return out


@dataclass(frozen=True)
class Keeper:
    """Decides, per listed object, whole or slim (see the module docstring); `names`: the
    (kind, name) pairs of the configuration (None: every name is kept)."""

    stack: str
    imports: frozenset[str] = frozenset()
    names: Names | None = None
    links: LinkBudget = dataclasses.field(default_factory=LinkBudget)  # spent as pages arrive

    def whole(self, obj: Raw) -> bool:
        if is_lock_record(obj) or is_index_record(obj) or _id(obj) in self.imports:
            return True
        stamp = Stamp.of(obj)
        return stamp is not None and stamp.stack == self.stack

    def page(self, kind: str | None, items: list[Raw]) -> list[Raw]:
        """One page as kept: `list_all`'s `keep`."""
        return [obj if self.whole(obj) else slim(kind, obj, self.names, self.links) for obj in items]


def _id(obj: Raw) -> str | None:
    """The object's id when it is a string (a hostile one may be anything, even unhashable)."""
    id = obj.get("id")
    return id if isinstance(id, str) else None


def _wanted(listed: Mapping[str, list[Raw]], stack: str, index_key: bytes | None,
            declared: frozenset[str] | None) -> list[tuple[str, str]]:
    """(kind, id) of the slim objects the stack's index gives to this stack."""
    index = read_index(stack, listed.get("session_template", []), index_key)
    if index is None:
        return []
    entries = index.by_id()
    out = []
    for kind, objects in listed.items():
        for obj in objects:
            id = _id(obj) if isinstance(obj, Slim) else None
            entry = entries.get(id) if id is not None else None
            address = our_address(entry.stamp.address, KINDS[kind]) if entry is not None else None
            # What ownership._indexed takes without a stamp of ours: anything a signed index lists,
            # else only what the configuration declares.
            if id is not None and address is not None and (index.signed or str(address) in (declared or ())):
                out.append((kind, id))
    return out


async def _fetch(client: MetorialClient, kind: str, id: str) -> Raw | None:
    try:
        return await client.get(KINDS[kind].path, id, kind=kind)
    except (NotFoundError, GoneError):  # gone since it was listed
        return None


async def whole_indexed(client: MetorialClient, listed: dict[str, list[Raw]], stack: str,
                        index_key: bytes | None, declared: frozenset[str] | None) -> dict[str, list[Raw]]:
    """`listed` with the slim objects the stack's index gives to this stack fetched whole by id
    (one GET each, concurrently; none in a run where every object of ours carries its stamp)."""
    wanted = _wanted(listed, stack, index_key, declared)
    if not wanted:
        return listed
    fetched = await asyncio.gather(*(_fetch(client, kind, id) for kind, id in wanted))
    whole = dict(zip((id for _, id in wanted), fetched, strict=True))

    def kept(obj: Raw) -> Raw | None:
        id = _id(obj) if isinstance(obj, Slim) else None
        return whole.get(id, obj)

    return {kind: [k for o in objects if (k := kept(o)) is not None] for kind, objects in listed.items()}
