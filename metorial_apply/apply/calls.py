"""API calls with the applier's semantics on top of the client: a delete of something already
gone is done, and a create whose response was lost is resolved by what landed (found by its
ownership stamp, or an api key by its exact name and generation), never re-sent blindly (the
API has no idempotency keys and names are not unique).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from metorial_apply.core.errors import (
    GoneError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from metorial_apply.core.keys import CreatedKey, LiveKey
from metorial_apply.core.kinds import KindSpec
from metorial_apply.core.model import Address, Stamp

LIST_ATTEMPTS = 4  # a recovery listing is retried on transient errors, a bounded number of times
CREATE_ATTEMPTS = 6  # a create is sent at most this often, each after a listing proved it absent

Sleep = Callable[[float], Awaitable[Any]]
T = TypeVar("T")


class ApiClient(Protocol):
    """The slice of `client.MetorialClient` the applier uses (fakes implement it in tests)."""

    async def list_all(
        self, path: str, params: dict[str, Any] | None = None, *, kind: str | None = None
    ) -> list[dict[str, Any]]: ...

    async def create(
        self, path: str, body: dict[str, Any], *, kind: str, name: str, stamp: dict[str, str]
    ) -> dict[str, Any]: ...

    async def update(self, path: str, id: str, body: dict[str, Any], *, kind: str, name: str) -> dict[str, Any]: ...

    async def delete(self, path: str, id: str, *, kind: str, name: str) -> dict[str, Any]: ...


class KeyApi(Protocol):
    """A key backend's client, as the executor uses it (api/keys.py KeyBackendClient)."""

    async def list_keys(self) -> list[LiveKey]: ...

    async def create_key(self, name: str, key_for: str | None = None) -> CreatedKey: ...

    async def delete_key(self, key: LiveKey) -> bool: ...


async def delete_quietly(client: ApiClient, path: str, id: str, *, kind: str, name: str) -> str:
    """DELETE; 404 or 410 means someone (often an archive cascade) already did it."""
    try:
        await client.delete(path, id, kind=kind, name=name)
    except (NotFoundError, GoneError):
        return "already gone"
    return ""


async def list_with_retries(client: ApiClient, path: str, params: dict[str, Any] | None, *, kind: str,
                            sleep: Sleep = asyncio.sleep) -> list[dict[str, Any]]:
    """List, retrying transient failures a bounded number of times (on top of the client's own)."""
    for attempt in range(LIST_ATTEMPTS):
        try:
            return await client.list_all(path, params, kind=kind)
        except (TransportError, ServerError, RateLimitedError):
            if attempt == LIST_ATTEMPTS - 1:
                raise
            await sleep(0.2 * 2 ** attempt * (1 + random.random()))
    raise AssertionError("unreachable")


def stamped(items: list[dict[str, Any]], stack: str, address: Address, exclude: set[str]) -> list[dict[str, Any]]:
    """Active objects carrying our stamp for `address`, newest first."""
    def ours(obj: dict[str, Any]) -> bool:
        _, stamp = Stamp.split(obj.get("metadata"))
        return stamp is not None and stamp.stack == stack and stamp.address == str(address)

    found = [o for o in items if o.get("status", "active") == "active" and o.get("id") not in exclude and ours(o)]
    return sorted(found, key=lambda o: (o.get("created_at") or "", o.get("id") or ""), reverse=True)


@dataclass(frozen=True)
class Landing(Generic[T]):
    """Where a create whose answer was lost may have landed, for any kind on any API: `landed()`
    lists what it may have left (newest first), `adoptable` says whether that can be kept (False
    when the answer carried a one-time secret: then it is deleted and the create sent again)."""

    landed: Callable[[], Awaitable[list[Any]]]
    create: Callable[[], Awaitable[T]]
    delete: Callable[[Any], Awaitable[Any]]
    adoptable: bool = True


async def recover_create(landing: Landing[T]) -> tuple[T, str]:
    """Resolve a create whose outcome is unknown: adopt what landed (deleting any extras, so one
    address never has two objects), or delete it when it cannot be adopted, then create it once
    more; at most CREATE_ATTEMPTS creates, each after a listing proved nothing usable landed."""
    last: OutcomeUnknownError | None = None
    for _ in range(CREATE_ATTEMPTS):
        found = await landing.landed()
        if found and landing.adoptable:
            for extra in found[1:]:
                await landing.delete(extra)
            extras = f", {len(found) - 1} duplicate(s) removed" if len(found) > 1 else ""
            return found[0], "adopted after a lost response" + extras
        for orphan in found:
            await landing.delete(orphan)
        try:
            obj = await landing.create()
            left = f" ({len(found)} left behind deleted)" if found else ""
            return obj, "created again after a lost response" + left
        except OutcomeUnknownError as exc:
            last = exc
    assert last is not None
    raise last


def stamped_landing(client: ApiClient, kind: KindSpec, address: Address, stack: str, body: dict[str, Any],
                    stamp: dict[str, str], exclude: set[str], *, sleep: Sleep = asyncio.sleep
                    ) -> Landing[dict[str, Any]]:
    """A Metorial create's landing: objects of its kind stamped with its address; `exclude` holds
    ids that were ours before this create (the old half of a replace)."""
    async def landed() -> list[dict[str, Any]]:
        items = await list_with_retries(client, kind.path, None, kind=kind.kind, sleep=sleep)
        return stamped(items, stack, address, exclude)

    async def delete(obj: dict[str, Any]) -> Any:
        return await delete_quietly(client, kind.path, obj["id"], kind=kind.kind, name=address.name)

    return Landing(landed, lambda: client.create(kind.path, body, kind=kind.kind, name=address.name, stamp=stamp),
                   delete, kind.adoptable)


async def recover_child_create(client: ApiClient, path: str, parent: dict[str, str], body: dict[str, Any], *,
                               kind: str, name: str, sleep: Sleep = asyncio.sleep) -> None:
    """A child create (a session-template provider, identified by its parent and deployment)
    whose outcome is unknown: adopt it if it landed, else create it once more, as often as
    CREATE_ATTEMPTS allows (that create may be lost too)."""
    deployment = body.get("provider_deployment_id")
    last: OutcomeUnknownError | None = None
    for _ in range(CREATE_ATTEMPTS):
        items = await list_with_retries(client, path, parent, kind=kind, sleep=sleep)
        if any(o.get("status", "active") == "active" and (o.get("deployment") or {}).get("id") == deployment
               for o in items):
            return
        try:
            await client.create(path, body, kind=kind, name=name, stamp={})
            return
        except OutcomeUnknownError as exc:
            last = exc
    assert last is not None
    raise last


def key_landing(client: KeyApi, name: str, key_for: str | None, adoptable: bool) -> Landing[CreatedKey]:
    """An api key create's landing: keys of exactly that name, generation included (an older
    generation a consumer holds is never what a lost create left)."""
    async def landed() -> list[LiveKey]:
        return [k for k in await client.list_keys() if k.name == name]

    return Landing(landed, lambda: client.create_key(name, key_for), client.delete_key, adoptable)
