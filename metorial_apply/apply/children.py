"""Sub-resources of an update (session-template providers): which to add, patch, recreate or
remove, and doing it. Identity is parent + key, so a recreated child is deleted before it is
created again and two never coexist; a lost create is resolved by listing the parent's children.
"""

from __future__ import annotations

import asyncio
from typing import Any

from metorial_apply.apply.calls import ApiClient, delete_quietly, recover_child_create
from metorial_apply.apply.ids import IdMap
from metorial_apply.apply.verify import UnappliedWriteError, child_unapplied
from metorial_apply.core.errors import ApiCall, OutcomeUnknownError
from metorial_apply.core.kinds import CHILD_REFS, ChildSpec, KindSpec
from metorial_apply.core.model import Address
from metorial_apply.planning.plan import Action, Change, ChildChange


def _items(spec: dict[str, Any] | None, child: ChildSpec) -> dict[str, dict[str, Any]]:
    return {item[child.key]: item for item in (spec or {}).get(child.field) or []}


def _refs_replaced(item: dict[str, Any], ids: IdMap) -> bool:
    return any(item.get(f) and Address(kind=k, name=item[f]) in ids.replaced for f, k in CHILD_REFS.items())


def child_changes(kind: KindSpec, change: Change, ids: IdMap) -> list[ChildChange]:
    """The plan's child changes, plus a recreate for every kept child whose references were
    replaced earlier in this run (its old target is about to be deleted)."""
    child = kind.children
    assert child is not None
    desired = _items(change.desired.spec if change.desired else None, child)
    live_ids = change.live.children if change.live else {}
    todo = [c.model_copy(update={"after": c.after or desired.get(c.key), "id": c.id or live_ids.get(c.key)})
            for c in change.children]
    if change.desired is not None and child.field in change.desired.ignore:
        return todo  # `ignore:` leaves the children to the dashboard: nothing of ours is sent
    covered = {c.key for c in todo}
    for key, item in sorted(desired.items()):
        if key not in covered and key in live_ids and _refs_replaced(item, ids):
            todo.append(ChildChange(action=Action.REPLACE, key=key, reason="reference replaced",
                                    id=live_ids[key], after=item))
    return todo


async def run_child_changes(client: ApiClient, kind: KindSpec, parent: Address, parent_id: str,
                            todo: list[ChildChange], ids: IdMap) -> None:
    """Removals first (deletes and the old halves of recreates), then additions and patches."""
    child = kind.children
    assert child is not None
    gone = [c for c in todo if c.action in (Action.DELETE, Action.REPLACE) and c.id]
    await asyncio.gather(
        *(delete_quietly(client, child.path, c.id or "", kind=parent.kind, name=parent.name) for c in gone)
    )
    ups = [c for c in todo if c.action in (Action.CREATE, Action.REPLACE, Action.UPDATE)]
    await asyncio.gather(*(_up(client, child, parent, parent_id, c, ids) for c in ups))


async def _up(client: ApiClient, child: ChildSpec, parent: Address, parent_id: str, c: ChildChange, ids: IdMap) -> None:
    """Create or patch one child, and check its answer holds what was sent (a lost create's
    recovery has no answer to check: the next plan compares it)."""
    item = c.after or {}
    body = child.to_api(item, ids)
    if c.action is Action.UPDATE:
        fields = sorted(set(c.fields) & child.patchable)
        patch = {f: body[f] for f in fields if f in body}
        if patch and c.id:
            answer = await client.update(child.path, c.id, patch, kind=parent.kind, name=parent.name)
            _check(child, item, fields, answer, ids, parent, ApiCall("PATCH", f"{child.path}/{c.id}"))
        return
    body = {child.parent_param: parent_id} | body
    try:
        answer = await client.create(child.path, body, kind=parent.kind, name=parent.name, stamp={})
    except OutcomeUnknownError:
        await _recover_child(client, child, parent, parent_id, body)
        return
    _check(child, item, item.keys(), answer, ids, parent, ApiCall("POST", child.path), "create")


def _check(child: ChildSpec, item: dict[str, Any], fields: Any, answer: dict[str, Any], ids: IdMap, parent: Address,
           call: ApiCall, action: str = "update") -> None:
    missed = child_unapplied(child, item, fields, answer, ids)
    if missed:
        raise UnappliedWriteError(parent, call, action, missed)


async def _recover_child(
    client: ApiClient, child: ChildSpec, parent: Address, parent_id: str, body: dict[str, Any]
) -> None:
    """A child create whose response was lost: adopt the child if it landed, else create it again."""
    await recover_child_create(client, child.path, {child.parent_param: parent_id}, body,
                               kind=parent.kind, name=parent.name)
