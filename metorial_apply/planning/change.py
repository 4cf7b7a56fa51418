"""One change of a plan: an action on one address, with why, and its edges. Pure values.

Kept apart from `plan.py` so the modules that build changes for the planner (adoption, api
keys) need not import the planner.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from metorial_apply.core.model import Address, Frozen, Resource
from metorial_apply.planning.action import Action, ChildChange, FieldDiff
from metorial_apply.planning.graph import ReplaceMode


class Change(Frozen):
    """One action on one address, with why. `desired`/`live` carry the full resources for
    apply (never serialised: they may hold secrets); `before`/`after` are the redacted specs.

    `diffs` speak the user's YAML vocabulary (field `tools`, values as written in YAML);
    `fields` lists the canonical spec fields that changed (what an update PATCHes).
    Ordering contract (planning/graph.py makes it; the applier adds nothing of its own):
    a create, an update or a replace's create-new step waits for the create (or create-new
    step) of every address in `depends_on`; a delete waits until every address in
    `depends_on` has let go of it (its delete, the delete-old step of its replace, or its
    update). A replace's delete-old step waits until every address in `delete_after` has let
    go of the old object, and for its own create-new step when `replace_mode` is create_first
    (delete_first reverses the two steps).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    action: Action
    address: Address
    reason: str
    drift: bool = False  # live was changed outside metorial-apply
    diffs: tuple[FieldDiff, ...] = ()
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    id: str | None = None  # live id (update, replace, delete)
    depends_on: tuple[Address, ...] = ()  # addresses whose changes must finish first
    replace_mode: ReplaceMode | None = None  # replace only
    fields: tuple[str, ...] = ()  # canonical spec fields changed
    children: tuple[ChildChange, ...] = ()  # sub-resource actions of an update
    delete_after: tuple[Address, ...] = ()  # replace: finish these before deleting the old object
    protect: bool = False  # `protect: true` in config: refuse delete/replace
    moved_from: Address | None = None  # move: the address the object's stamp held before
    desired: Resource | None = None
    live: Resource | None = None
    # Every earlier object at this address that the delete step removes, when there can be more
    # than one: an api key's earlier generations (a plain delete or replace removes `live`).
    old: tuple[Resource, ...] = ()

    @property
    def destructive(self) -> bool:
        return self.action.cls.mass
