"""The vocabulary of one change: its action, a field diff, a sub-resource action. Pure values.

Kept apart from `plan.py` so `diff.py` can build them without importing the planner;
`plan.py` re-exports all three.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from metorial_apply.core.model import Address, Frozen


class Action(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    IMPORT = "import"
    TAKEOVER = "takeover"
    MOVE = "move"
    FORGET = "forget"
    ROTATE = "rotate"
    NOOP = "noop"

    @property
    def marker(self) -> str:
        return ACTION_CLASSES[self].marker

    @property
    def cls(self) -> ActionClass:
        return ACTION_CLASSES[self]


@dataclass(frozen=True)
class ActionClass:
    """What an action is, everywhere at once: its marker (text, Markdown, progress), its exit
    code under `--detailed-exitcode`, whether CI needs `--allow-delete` for it, whether it
    counts toward the mass-delete guard, and how it is shown. Adding an action is one entry
    here, plus what the applier does for it (apply/steps.py UP_ACTIONS, apply/execute.py)."""

    marker: str
    exit_code: int
    needs_allow_delete: bool = False
    mass: bool = False  # delete/replace: counts toward the share guard, and `protect` refuses it
    summary: str = ""  # "to create"
    rank: int = 0  # display order of rows (text, Markdown): lower first
    color: str = "0"  # ANSI colour of the marker in a terminal
    keep: int = 0  # Markdown: when a comment is too long, details with lower `keep` are left out first
    past: str = ""  # the apply report's word for it done: "created"


ACTION_CLASSES: dict[Action, ActionClass] = {
    Action.CREATE: ActionClass("+", 2, summary="to create", rank=0, color="32", keep=2, past="created"),
    Action.IMPORT: ActionClass("<=", 2, summary="to import", rank=1, color="36", keep=2, past="imported"),
    Action.TAKEOVER: ActionClass("<=!", 3, needs_allow_delete=True, summary="to take over", rank=2, color="35",
                                 keep=3, past="taken over"),
    Action.MOVE: ActionClass("->", 2, summary="to move", rank=3, color="36", keep=1, past="moved"),
    Action.UPDATE: ActionClass("~", 2, summary="to update", rank=4, color="33", keep=1, past="updated"),
    Action.REPLACE: ActionClass("-/+", 3, needs_allow_delete=True, mass=True, summary="to replace", rank=5,
                                color="35", keep=3, past="replaced"),
    # An api key's new generation: create it, re-create its consumers with it, delete the old
    # one. Destructive (the old key stops working), but not a share of the stack going away.
    Action.ROTATE: ActionClass("+/-", 3, needs_allow_delete=True, summary="to rotate", rank=6, color="35", keep=3,
                               past="rotated"),
    Action.FORGET: ActionClass("-x", 2, summary="to forget", rank=7, color="33", keep=1, past="forgotten"),
    Action.DELETE: ActionClass("-", 3, needs_allow_delete=True, mass=True, summary="to delete", rank=8, color="31",
                               keep=3, past="deleted"),
    Action.NOOP: ActionClass(" ", 0, rank=9),
}
# The actions before this plan's adoption work existed: summaries always name these four.
CORE_ACTIONS = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)
# Changes that adopt a live object into the stack (it keeps its id): the applier PATCHes them.
ADOPTS = (Action.IMPORT, Action.TAKEOVER, Action.MOVE)


def exit_code(actions: Iterable[Action]) -> int:
    """`--detailed-exitcode` for a plan with these actions: the highest class present, 0 for none."""
    return max((ACTION_CLASSES[a].exit_code for a in actions), default=0)


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


class Note(Frozen):
    """Something the reader should know about one address that is not a change (e.g. a field the
    API cannot clear). Rendered once, after the summary."""

    address: Address
    text: str
