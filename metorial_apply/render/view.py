"""The display model every renderer reads: built once from a Plan and a RenderContext.

Rows are ordered by action (each action's `rank` in planning/action.py: create, import, takeover,
move, update, replace, forget, delete), then kind order, then name.
Values are redacted here, so renderers never see a secret: only `Change.before`, `after` and
`diffs` are read, and `Change.desired` only for which fields are secret, never their values.
Names, reasons, ids and labels (which can come from the API or a stamp) are made inert here;
values are made inert where they are formatted (`values.format_value`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from metorial_apply import __version__
from metorial_apply.core.inert import inert
from metorial_apply.core.kinds import KINDS, kind_order
from metorial_apply.core.model import SecretValue
from metorial_apply.planning.action import ADOPTS
from metorial_apply.planning.action import exit_code as action_exit_code
from metorial_apply.planning.plan import Action, Change, FieldDiff, Plan
from metorial_apply.planning.safety import Blocked
from metorial_apply.render.values import SECRET, Shape, display_field, shape_of

ACTION_ORDER = tuple(sorted(Action, key=lambda a: a.cls.rank))
CHANGE_ACTIONS = ACTION_ORDER[:-1]
EXIT_OK, EXIT_CHANGES, EXIT_DESTRUCTIVE = 0, 2, 3


@dataclass(frozen=True)
class RenderStats:
    """What reading live state cost; shown in the header and footer when known."""

    kinds: int
    list_calls: int
    seconds: float
    api_calls: int | None = None  # every API call of the run (catalog, lists, gets)


@dataclass(frozen=True)
class RenderContext:
    """Facts about the run that are not part of the plan itself."""

    api_url: str
    config_path: str | None = None
    stats: RenderStats | None = None
    version: str = __version__
    full_plan_hint: str | None = None  # where the full plan is when Markdown is cut, e.g. "the plan.json artifact"
    plan_checksum: str | None = None  # "sha256:…" of the saved plan, when one was written
    saved_plan: str | None = None  # path of a saved plan: `apply` takes it instead of the config
    next_step: bool = True  # end with "Apply with: …"; false when apply itself shows the plan
    blocked: tuple[Blocked, ...] = ()  # what an apply with plan's gate flags would refuse (cli/safety.py)
    no_secrets: bool = False  # plan --no-secrets: secrets not compared; the plan cannot be applied
    apply_flags: tuple[str, ...] = ()  # flags "Apply with:" names before the target (already shell-quoted)


@dataclass(frozen=True)
class FieldLine:
    """One field of one change. `mode` says which sides exist: `after` (create), `before`
    (delete) or `change`. Values are JSON and already redacted; `secret` hides them entirely."""

    path: str
    label: str
    mode: Literal["after", "before", "change"]
    before: Any = None
    after: Any = None
    # "changed"/"added"/"removed": a secret that changed (or a top-level key of one), never its value.
    secret: Literal["", "secret", "changed", "added", "removed"] = ""
    shape: Shape = "plain"


@dataclass(frozen=True)
class Row:
    """One change as shown."""

    action: Action
    kind: str
    name: str
    reason: str
    drift: bool = False
    id: str | None = None
    depends_on: tuple[str, ...] = ()
    fields: tuple[FieldLine, ...] = ()

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.name}"

    @property
    def marker(self) -> str:
        return self.action.marker

    @property
    def destructive(self) -> bool:
        return self.action.cls.mass


@dataclass(frozen=True)
class KindCounts:
    kind: str
    counts: dict[str, int]  # action value → count, change actions only


@dataclass(frozen=True)
class View:
    stack: str
    context: RenderContext
    rows: tuple[Row, ...]  # actionable changes in display order
    noops: tuple[Row, ...]
    counts: dict[str, int]  # action value → count, every action in ACTION_ORDER
    kinds: tuple[KindCounts, ...] = field(default=())  # kinds with at least one change
    notes: tuple[tuple[str, str], ...] = field(default=())  # (address, text), from Plan.notes

    @property
    def drift(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.drift)

    @property
    def destructive(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.destructive)

    @property
    def exit_code(self) -> int:
        """What `plan --detailed-exitcode` exits with for this plan."""
        return action_exit_code(r.action for r in self.rows)

    @property
    def apply_target(self) -> str | None:
        """What `apply` should be given: the saved plan when one was written, else the config."""
        return self.context.saved_plan or self.context.config_path


def build_view(plan: Plan, context: RenderContext) -> View:
    """The display model of a plan: redacted, ordered, counted."""
    rows = sorted((build_row(c) for c in plan.changes), key=row_key)
    counts = {a.value: sum(1 for r in rows if r.action is a) for a in ACTION_ORDER}
    changed = [r for r in rows if r.action is not Action.NOOP]
    kinds = sorted({r.kind for r in changed}, key=sort_key_kind)
    per_kind = tuple(KindCounts(k, {a.value: sum(1 for r in changed if r.kind == k and r.action is a)
                                    for a in CHANGE_ACTIONS}) for k in kinds)
    return View(stack=inert(plan.stack), context=context, rows=tuple(changed),
                noops=tuple(r for r in rows if r.action is Action.NOOP), counts=counts, kinds=per_kind,
                notes=tuple((str(n.address), n.text) for n in plan.notes))


def sort_key_kind(kind: str) -> tuple[int, str]:
    return (kind_order(kind), kind)


def row_key(row: Row) -> tuple[int, int, str, str]:
    # Unknown kinds share the last kind slot; their kind name keeps them apart deterministically.
    return (ACTION_ORDER.index(row.action), kind_order(row.kind), row.kind, row.name)


def build_row(change: Change) -> Row:
    """One change → one row; specs and values redacted by the desired resource's sensitive fields."""
    sensitive = sensitive_of(change)
    return Row(
        action=change.action, kind=inert(change.address.kind), name=inert(change.address.name),
        reason=inert(change.reason), drift=change.drift, id=inert(change.id) if change.id else None,
        depends_on=tuple(sorted(inert(str(a)) for a in change.depends_on)),
        fields=field_lines(change, sensitive),
    )


def sensitive_of(change: Change) -> frozenset[str]:
    """Sensitive spec fields under both their canonical and their YAML names."""
    found: set[str] = set()
    for resource in (change.desired, change.live):
        if resource is not None:
            found |= resource.sensitive | {display_field(f) for f in resource.sensitive}
    return frozenset(found)


def is_sensitive(path: str, sensitive: frozenset[str]) -> bool:
    return any(path == s or path.startswith((s + ".", s + "[")) for s in sensitive)


def redact(value: Any, path: str, sensitive: frozenset[str]) -> Any:
    """A JSON copy of `value` with every sensitive path and every SecretValue replaced by "(secret)"."""
    if isinstance(value, SecretValue) or (path and is_sensitive(path, sensitive)):
        return SECRET
    if isinstance(value, dict):
        return {str(k): redact(v, f"{path}.{k}" if path else str(k), sensitive) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, f"{path}[{i}]", sensitive) for i, v in enumerate(value)]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def field_lines(change: Change, sensitive: frozenset[str]) -> tuple[FieldLine, ...]:
    """Creates list what will be set, deletes what goes away, updates and replaces their diffs."""
    kind = change.address.kind
    if change.action is Action.CREATE:
        lines = spec_lines(change.after, "after", kind, sensitive, change.address.name)
        return tuple(lines + secret_lines(change, {line.path for line in lines}))
    if change.action is Action.DELETE:
        return tuple(spec_lines(change.before, "before", kind, sensitive, change.address.name))
    if change.action in (Action.UPDATE, Action.REPLACE, Action.ROTATE, *ADOPTS):
        return tuple(diff_line(d, kind, sensitive) for d in change.diffs)
    return ()


def spec_lines(spec: dict[str, Any] | None, mode: Literal["after", "before"], kind: str,
               sensitive: frozenset[str], name: str) -> list[FieldLine]:
    """Every set field of a spec; `name` is left out when it just repeats the address."""
    lines = []
    for key, value in (spec or {}).items():
        if value in (None, [], {}, "") or (key == "name" and value == name):
            continue
        secret = "secret" if is_sensitive(key, sensitive) or isinstance(value, SecretValue) or value == SECRET else ""
        shown = None if secret else redact(value, key, sensitive)
        lines.append(FieldLine(path=key, label=label_of(key), mode=mode, secret=secret,
                               shape=shape_of(kind, key),
                               before=shown if mode == "before" else None, after=shown if mode == "after" else None))
    return lines


def secret_lines(change: Change, shown: set[str]) -> list[FieldLine]:
    """Write-only fields a create will send: named from the registry, their values never read."""
    desired = change.desired
    names = KINDS[change.address.kind].secret_fields if change.address.kind in KINDS else ()
    lines = [FieldLine(path=d.field, label=label_of(d.field), mode="after", secret="secret")
             for d in change.diffs if d.secret and d.field not in shown]
    if desired is not None and desired.secret is not None:
        taken = shown | {line.path for line in lines}
        lines += [FieldLine(path=f, label=label_of(f), mode="after", secret="secret") for f in names if f not in taken]
    return lines


def label_of(path: str) -> str:
    """A field path as shown: YAML words, inert (a sub-resource key can be a live id or name)."""
    return inert(display_field(path))


def diff_line(diff: FieldDiff, kind: str, sensitive: frozenset[str]) -> FieldLine:
    """A field diff; a secret or sensitive one keeps only the fact that it changed."""
    if diff.secret or is_sensitive(diff.field, sensitive):
        how = "changed" if not diff.secret else "added" if diff.before is None else \
            "removed" if diff.after is None else "changed"
        return FieldLine(path=diff.field, label=label_of(diff.field), mode="change", secret=how)
    return FieldLine(path=diff.field, label=label_of(diff.field), mode="change",
                     before=redact(diff.before, diff.field, sensitive), after=redact(diff.after, diff.field, sensitive),
                     shape=shape_of(kind, diff.field))
