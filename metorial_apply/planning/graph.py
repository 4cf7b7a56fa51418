"""Dependency graph of a plan, from refs (stdlib graphlib): cycle errors, ordering edges and a
stable execution order. Pure.

Edges, for the applier (see `Change`):
- create/update/replace of X waits for the create (or create-new step of the replace) of
  every address X's desired spec references;
- delete of X waits for every change whose live side references X (update, replace, delete):
  dependents are repointed or removed first, so the API's archive cascades never take
  something still needed;
- the delete-old step of a replace X waits for everything that references X, desired or live.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from graphlib import CycleError, TopologicalSorter

from metorial_apply.core.errors import PlanError
from metorial_apply.core.kinds import sort_key
from metorial_apply.core.model import Address
from metorial_apply.planning.action import Action

Refs = Mapping[Address, frozenset[Address]]
BUILDS = (Action.CREATE, Action.REPLACE)
REMOVES_REF = (Action.UPDATE, Action.REPLACE, Action.DELETE)


def _cycle_error(exc: CycleError, what: str) -> PlanError:
    cycle = exc.args[1] if len(exc.args) > 1 else []
    path = " → ".join(str(a) for a in reversed(cycle)) if cycle else "(unknown)"
    return PlanError(f"{what} cycle: {path}")


def check_acyclic(refs: Refs) -> None:
    """Raise PlanError naming the cycle when desired references loop."""
    ts: TopologicalSorter[Address] = TopologicalSorter()
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


def edges(actions: Mapping[Address, Action], desired_refs: Refs, live_refs: Refs
          ) -> tuple[dict[Address, tuple[Address, ...]], dict[Address, tuple[Address, ...]]]:
    """(depends_on, delete_after) for every non-noop change, restricted to changes in the plan."""
    by_desired, by_live = referrers(desired_refs), referrers(live_refs)
    depends: dict[Address, tuple[Address, ...]] = {}
    after: dict[Address, tuple[Address, ...]] = {}
    for x, action in actions.items():
        if action is Action.NOOP:
            continue
        if action is Action.DELETE:
            depends[x] = _sorted(y for y in by_live.get(x, ()) if actions.get(y) in REMOVES_REF and y != x)
            continue
        depends[x] = _sorted(y for y in desired_refs.get(x, ()) if actions.get(y) in BUILDS and y != x)
        if action is Action.REPLACE:
            users = [y for y in by_desired.get(x, ()) if actions.get(y) not in (None, Action.NOOP, Action.DELETE)]
            users += [y for y in by_live.get(x, ()) if actions.get(y) in REMOVES_REF]
            after[x] = _sorted(y for y in users if y != x)
    return depends, after


def execution_order(actions: Mapping[Address, Action], depends: Mapping[Address, Iterable[Address]]) -> list[Address]:
    """A valid order for `depends`, byte-stable: among ready changes, builds before deletes
    before noops, then kind order (reversed for deletes), then name. Raises PlanError on a cycle."""
    def phase(address: Address) -> int:
        return {Action.DELETE: 1, Action.NOOP: 2}.get(actions[address], 0)
    ts: TopologicalSorter[Address] = TopologicalSorter()
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
