"""Counting resources in an emulator apart from the session templates metorial-apply keeps for
itself: the stack lock's records and the stack index's head and shards (created, PATCHed and
archived by every apply, never a resource)."""

from __future__ import annotations

from typing import Any, Protocol

from metorial_apply.core.index import is_index_record
from metorial_apply.core.lock import is_lock_record


class Admin(Protocol):
    def stats(self) -> dict[str, Any]: ...

    def objects(self, stack: str | None = None, status: str | None = None) -> list[dict[str, Any]]: ...

    def admin(self, method: str, path: str, **kw: Any) -> Any: ...


def is_bookkeeping(obj: dict[str, Any]) -> bool:
    return is_lock_record(obj) or is_index_record(obj)


def records(server: Admin) -> int:
    """Lock and index records ever made (archived ones too)."""
    return sum(1 for o in server.objects() if is_bookkeeping(o))


def reset_stats(server: Admin) -> int:
    """Reset the call counters; the mark `creates` counts from."""
    server.admin("POST", "/reset", json={"stats_only": True})
    return records(server)


def creates(server: Admin, mark: int) -> int:
    """Create calls for resources since `reset_stats` returned `mark`."""
    posts = sum(n for k, n in server.stats()["calls"].items() if k.startswith("POST "))
    return posts - (records(server) - mark)


def active(server: Admin) -> int:
    """Active resources (bookkeeping records left out)."""
    return sum(1 for o in server.objects(status="active") if not is_bookkeeping(o))
