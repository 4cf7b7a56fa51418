"""The vocabulary of one change: its action, a field diff, a sub-resource action. Pure values.

Kept apart from `plan.py` so `diff.py` can build them without importing the planner;
`plan.py` re-exports all three.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from metorial_apply.core.model import Frozen


class Action(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NOOP = "noop"

    @property
    def marker(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "noop": " "}[self.value]


class FieldDiff(Frozen):
    """One changed field. `before`/`after` are already redacted when `secret` is true."""

    field: str  # YAML vocabulary: "description", "tools", "providers[github].tools", "value"
    before: Any = None
    after: Any = None
    secret: bool = False


class ChildChange(Frozen):
    """One sub-resource action inside an update of its parent (session-template providers).

    `create`: add it; `update`: PATCH `fields`; `replace`: delete the old one (`id`) then create
    it again (identity is parent + key, so two must never coexist); `delete`: remove `id`.
    """

    action: Action
    key: str  # the item's key within its parent, e.g. the deployment name
    reason: str
    id: str | None = None  # live sub-resource id (update, replace, delete)
    fields: tuple[str, ...] = ()  # canonical item fields changed (update)
    after: dict[str, Any] | None = None  # desired canonical item (create, replace); refs by name
