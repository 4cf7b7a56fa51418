"""The execution graph of a plan: which API work runs after which. Pure.

Each actionable change becomes one or two steps: an `up` step (create, update, or the create
half of a replace) and a `down` step (delete, or the delete half of a replace). The edges
between steps come from the plan's edges (`depends_on`, `delete_after`, `replace_mode`) and
from nothing else: planning/graph.py is the one source of ordering, so what a saved or
printed plan shows is exactly what runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from metorial_apply.core.kinds import sort_key
from metorial_apply.core.model import Address
from metorial_apply.planning.plan import Action, Change, Plan

Phase = Literal["up", "down"]
# Adoptions are PATCHes of an object that keeps its id: stamp (and fields) for import, takeover
# and move, the stamp removed for forget.
# A rotate (an api key's next generation) runs the steps of a replace.
UP_ACTIONS = {Action.CREATE: "create", Action.UPDATE: "update", Action.REPLACE: "create", Action.ROTATE: "create",
              Action.IMPORT: "update", Action.TAKEOVER: "update", Action.MOVE: "update", Action.FORGET: "forget"}
DOWN_ACTIONS = {Action.DELETE: "delete", Action.REPLACE: "delete", Action.ROTATE: "delete"}


@dataclass(frozen=True)
class Step:
    """One unit of API work for one change; identified by (address, phase)."""

    address: Address
    phase: Phase
    change: Change = field(compare=False, hash=False, repr=False)

    @property
    def action(self) -> str:
        """The API operation: create, update or delete."""
        return "delete" if self.phase == "down" else UP_ACTIONS[self.change.action]

    def order(self) -> tuple[int, int, str]:
        # Deterministic start order among ready steps: ups in kind order, downs in reverse.
        kind, name = sort_key(self.address)
        return (0, kind, name) if self.phase == "up" else (1, -kind, name)


Graph = dict[Step, set[Step]]


def _steps(plan: Plan) -> tuple[dict[Address, Step], dict[Address, Step]]:
    ups = {c.address: Step(c.address, "up", c) for c in plan.changes if c.action in UP_ACTIONS}
    downs = {c.address: Step(c.address, "down", c) for c in plan.changes if c.action in DOWN_ACTIONS}
    return ups, downs


def build_steps(plan: Plan) -> Graph:
    """The execution graph: step → the steps that must finish before it starts.

    An address the plan names without a step (a noop) has nothing to wait for."""
    ups, downs = _steps(plan)
    graph: Graph = {s: set() for s in [*ups.values(), *downs.values()]}

    def release(a: Address) -> set[Step]:
        # The step after which `a` no longer references anything it is moving off or removing.
        step = downs.get(a) or ups.get(a)
        return {step} if step is not None else set()

    for c in plan.changes:
        up, down = ups.get(c.address), downs.get(c.address)
        if up is not None:
            graph[up] |= {ups[d] for d in c.depends_on if d in ups}
        elif down is not None:
            graph[down] |= {s for d in c.depends_on for s in release(d)}
        if down is not None:
            graph[down] |= {s for a in c.delete_after for s in release(a)}
        if up is not None and down is not None and c.replace_mode == "create_first":
            graph[down].add(up)
        elif up is not None and down is not None and c.replace_mode == "delete_first":
            graph[up].add(down)
    return graph
