"""The execution graph of a plan: which API work runs after which. Pure.

Each actionable change becomes one or two steps: an `up` step (create, update, or the create
half of a replace) and a `down` step (delete, or the delete half of a replace). Creates and
updates run after the `up` steps of what they reference; a `down` step runs only after every
change whose live side references it has dropped that reference, so the API's archive
cascades never take something the plan still needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from metorial_apply.core.kinds import KINDS, sort_key
from metorial_apply.core.model import Address
from metorial_apply.planning.plan import Action, Change, Plan

Phase = Literal["up", "down"]
UP_ACTIONS = {Action.CREATE: "create", Action.UPDATE: "update", Action.REPLACE: "create"}
DOWN_ACTIONS = {Action.DELETE: "delete", Action.REPLACE: "delete"}


@dataclass(frozen=True)
class Step:
    """One unit of API work for one change; identified by (address, phase)."""

    address: Address
    phase: Phase
    change: Change = field(compare=False, hash=False, repr=False)
    repoint: bool = field(default=False, compare=False, hash=False)  # a noop whose refs were replaced

    @property
    def action(self) -> str:
        """The API operation: create, update or delete."""
        if self.phase == "down":
            return "delete"
        return "update" if self.repoint else UP_ACTIONS[self.change.action]

    def order(self) -> tuple[int, int, str]:
        # Deterministic start order among ready steps: ups in kind order, downs in reverse.
        kind, name = sort_key(self.address)
        return (0, kind, name) if self.phase == "up" else (1, -kind, name)


Graph = dict[Step, set[Step]]


def refs(spec: dict | None, kind: str) -> set[Address]:
    """Addresses a canonical spec references (children included)."""
    if spec is None or kind not in KINDS:
        return set()
    return {address for _, address in KINDS[kind].references(spec)}


def _steps(plan: Plan) -> tuple[dict[Address, Step], dict[Address, Step]]:
    ups: dict[Address, Step] = {}
    downs: dict[Address, Step] = {}
    replaced = {c.address for c in plan.changes if c.action is Action.REPLACE}
    for c in plan.changes:
        if c.action in UP_ACTIONS:
            ups[c.address] = Step(c.address, "up", c)
        elif c.action is Action.NOOP and c.live is not None and refs(c.live.spec, c.address.kind) & replaced:
            ups[c.address] = Step(c.address, "up", c, repoint=True)
        if c.action in DOWN_ACTIONS:
            downs[c.address] = Step(c.address, "down", c)
    return ups, downs


def _up_edges(graph: Graph, ups: dict[Address, Step], downs: dict[Address, Step]) -> None:
    for address, step in ups.items():
        desired = step.change.desired.spec if step.change.desired else None
        graph[step] |= {ups[r] for r in refs(desired, address.kind) if r in ups and r != address}
        if step.change.replace_mode == "delete_first" and address in downs:
            graph[step].add(downs[address])


def _down_edges(graph: Graph, plan: Plan, ups: dict[Address, Step], downs: dict[Address, Step]) -> None:
    for address, step in downs.items():
        delete_first = step.change.replace_mode == "delete_first" and address in ups
        if step.change.action is Action.REPLACE and not delete_first:
            graph[step].add(ups[address])
        for other in plan.changes:
            if other.address == address or other.live is None:
                continue
            if address not in refs(other.live.spec, other.address.kind):
                continue
            graph[step] |= _release(other.address, ups, downs, delete_first)


def _release(dependent: Address, ups: dict[Address, Step], downs: dict[Address, Step], delete_first: bool) -> set[Step]:
    """The step of `dependent` after which it no longer references the resource going away."""
    if dependent in downs:
        dependent_first = downs[dependent].change.replace_mode == "delete_first"
        # A delete-first parent goes before a create-first dependent's new half exists, so
        # waiting for that dependent would be a cycle: the cascade archives its old half.
        if delete_first and dependent in ups and not dependent_first:
            return set()
        return {downs[dependent]}
    if dependent in ups and not delete_first:
        return {ups[dependent]}
    return set()


def _plan_edges(graph: Graph, plan: Plan, ups: dict[Address, Step], downs: dict[Address, Step]) -> None:
    """The planner's own ordering (`depends_on`, `delete_after`), merged in as a second opinion."""
    def every(a: Address) -> set[Step]:
        return {s for s in (ups.get(a), downs.get(a)) if s is not None}

    for c in plan.changes:
        waiting = ups.get(c.address) or downs.get(c.address)
        if waiting is None:
            continue
        for d in c.depends_on:
            # Waiting on a replace means waiting for its new half (which yields the new id).
            graph[waiting] |= ({ups[d]} if d in ups and d in downs else every(d)) - {waiting}
        if c.address in downs and c.address in ups:
            for a in c.delete_after:
                graph[downs[c.address]] |= every(a) - {downs[c.address]}


def build_steps(plan: Plan) -> Graph:
    """The execution graph: step → the steps that must finish before it starts."""
    ups, downs = _steps(plan)
    graph: Graph = {s: set() for s in [*ups.values(), *downs.values()]}
    _up_edges(graph, ups, downs)
    _down_edges(graph, plan, ups, downs)
    _plan_edges(graph, plan, ups, downs)
    return graph
