"""Dependency graph of a plan, from refs (stdlib graphlib): cycle errors, the plan's ordering
and a stable execution order. Pure.

This module is the only source of ordering: the applier (apply/steps.py) turns exactly these
edges into its execution graph and adds none of its own. For every change (see `Change`):
- depends_on of a create, update or replace: every address its desired spec references that
  is created or replaced (their create, or a replace's create-new step, yields the id it needs);
- depends_on of a delete: every change whose live side references it (update, replace,
  delete), so dependents are repointed or removed first and the API's archive cascades never
  take something still needed;
- delete_after of a replace: everything that references it, desired or live, so its old
  object is deleted only once nothing uses it;
- replace_mode of a replace: create_first (the new object exists before the old one goes).
  Names are not unique in this API, so no collision ever forces delete_first; a planner may
  preset delete_first only for old objects nothing uses (an api key whose secret was lost),
  which then have nothing to wait for.
A rotate (an api key's next generation) is ordered exactly like a replace.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from graphlib import CycleError
from typing import Literal, NamedTuple

from metorial_apply.core.errors import PlanError
from metorial_apply.core.kinds import sort_key
from metorial_apply.core.model import Address
from metorial_apply.core.toposort import NumberedSorter
from metorial_apply.planning.action import Action

Refs = Mapping[Address, frozenset[Address]]
BUILDS = (Action.CREATE, Action.REPLACE, Action.ROTATE)
REPLACES = (Action.REPLACE, Action.ROTATE)
REMOVES_REF = (Action.UPDATE, Action.REPLACE, Action.DELETE)


def _cycle_error(exc: CycleError, what: str) -> PlanError:
    cycle = exc.args[1] if len(exc.args) > 1 else []
    path = " → ".join(str(a) for a in reversed(cycle)) if cycle else "(unknown)"
    return PlanError(f"{what} cycle: {path}")


def check_acyclic(refs: Refs) -> None:
    """Raise PlanError naming the cycle when desired references loop."""
    ts: NumberedSorter[Address] = NumberedSorter()
    for node in sorted(refs, key=sort_key):
        ts.add(node, *sorted((r for r in refs[node] if r in refs), key=sort_key))
    try:
        ts.prepare()
    except CycleError as exc:
        raise _cycle_error(exc, "reference") from None


def referrers(refs: Refs) -> dict[Address, set[Address]]:
    """Inverse of `refs`: address → the addresses that reference it."""
    out: dict[Address, set[Address]] = {}
    for source, targets in refs.items():
        for target in targets:
            out.setdefault(target, set()).add(source)
    return out


def _sorted(addresses: Iterable[Address]) -> tuple[Address, ...]:
    return tuple(sorted(set(addresses), key=sort_key))


ReplaceMode = Literal["create_first", "delete_first"]


class Ordering(NamedTuple):
    """A plan's edges, by address: only changes in the plan appear (noops never do)."""

    depends_on: dict[Address, tuple[Address, ...]]
    delete_after: dict[Address, tuple[Address, ...]]
    replace_mode: dict[Address, ReplaceMode]


def edges(actions: Mapping[Address, Action], desired_refs: Refs, live_refs: Refs,
          preset: Mapping[Address, ReplaceMode] | None = None) -> Ordering:
    """The ordering of every non-noop change, restricted to changes in the plan (`preset`: replace
    modes a planner chose)."""
    by_desired, by_live = referrers(desired_refs), referrers(live_refs)
    depends: dict[Address, tuple[Address, ...]] = {}
    after: dict[Address, tuple[Address, ...]] = {}
    modes: dict[Address, ReplaceMode] = {}
    for x, action in actions.items():
        if action is Action.NOOP:
            continue
        if action is Action.DELETE:
            depends[x] = _sorted(y for y in by_live.get(x, ()) if actions.get(y) in REMOVES_REF and y != x)
            continue
        depends[x] = _sorted(y for y in desired_refs.get(x, ()) if actions.get(y) in BUILDS and y != x)
        if action in REPLACES:
            modes[x] = (preset or {}).get(x, "create_first")
            users = [y for y in by_desired.get(x, ()) if actions.get(y) not in (None, Action.NOOP, Action.DELETE)]
            users += [y for y in by_live.get(x, ()) if actions.get(y) in REMOVES_REF]
            after[x] = _sorted(y for y in users if y != x) if modes[x] == "create_first" else ()
    return Ordering(depends, after, modes)


def execution_order(actions: Mapping[Address, Action], depends: Mapping[Address, Iterable[Address]]) -> list[Address]:
    """A valid order for `depends`, byte-stable: among ready changes, builds before deletes
    before noops, then kind order (reversed for deletes), then name. Raises PlanError on a cycle."""
    def phase(address: Address) -> int:
        return {Action.DELETE: 1, Action.NOOP: 2}.get(actions[address], 0)
    ts: NumberedSorter[Address] = NumberedSorter()
    for node in sorted(actions, key=sort_key):
        ts.add(node, *sorted(depends.get(node, ()), key=sort_key))
    try:
        ts.prepare()
    except CycleError as exc:
        raise _cycle_error(exc, "dependency") from None
    # Deletes run dependents first, so among ready deletes the later kinds go first.
    key = lambda a: (phase(a), -sort_key(a)[0] if phase(a) == 1 else sort_key(a)[0], a.name)  # noqa: E731
    ready = [(key(a), a.kind, a.name) for a in ts.get_ready()]
    heapq.heapify(ready)
    order: list[Address] = []
    while ready:
        _, kind, name = heapq.heappop(ready)
        node = Address(kind=kind, name=name)
        order.append(node)
        ts.done(node)
        for nxt in ts.get_ready():
            heapq.heappush(ready, (key(nxt), nxt.kind, nxt.name))
    return order


def closure(roots: Iterable[Address], follow: Callable[[Address], Iterable[Address]]) -> set[Address]:
    """Every address reachable from `roots` through `follow` (roots included)."""
    seen: set[Address] = set()
    todo = list(roots)
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(follow(node))
    return seen
