"""The plan: an immutable, ordered list of changes from live to desired. Pure: no I/O."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict

from metorial_apply.action import Action, ChildChange, FieldDiff
from metorial_apply.model import Address, Frozen, Resource

__all__ = ["Action", "Change", "ChildChange", "FieldDiff", "Plan", "FORMAT_VERSION"]

FORMAT_VERSION = 1


class Change(Frozen):
    """One action on one address, with why. `desired`/`live` carry the full resources for
    apply (never serialised: they may hold secrets); `before`/`after` are the redacted specs.

    `diffs` speak the user's YAML vocabulary (field `tools`, values as written in YAML);
    `fields` lists the canonical spec fields that changed (what an update PATCHes).
    Ordering contract for the applier: a change waits for every address in `depends_on`
    (when that address is a replace, only for its create-new step, which yields the new id).
    A replace runs create-new, then waits for every address in `delete_after` to finish
    entirely (dependents repointed or removed), then deletes the old object.
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
    replace_mode: Literal["create_first", "delete_first"] | None = None
    fields: tuple[str, ...] = ()  # canonical spec fields changed
    children: tuple[ChildChange, ...] = ()  # sub-resource actions of an update
    delete_after: tuple[Address, ...] = ()  # replace: finish these before deleting the old object
    protect: bool = False  # `protect: true` in config: refuse delete/replace
    desired: Resource | None = None
    live: Resource | None = None

    @property
    def destructive(self) -> bool:
        return self.action in (Action.DELETE, Action.REPLACE)


class Plan(Frozen):
    """Every change for one stack, in a valid execution order (noops included, for display).

    `live_fingerprints` (address → digest of the live object read) and `desired_digest` let a
    saved plan be checked for staleness before it is applied.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    format_version: int = FORMAT_VERSION
    stack: str
    changes: tuple[Change, ...] = ()
    live_fingerprints: dict[str, str] = {}
    desired_digest: str = ""
    config_path: str | None = None  # what `apply plan.json` reloads secrets from

    def actionable(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is not Action.NOOP)

    def counts(self) -> dict[Action, int]:
        return {a: sum(1 for c in self.changes if c.action is a) for a in Action}

    @property
    def destructive(self) -> bool:
        return any(c.destructive for c in self.changes)
