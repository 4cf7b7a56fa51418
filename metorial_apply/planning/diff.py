"""One desired resource against its live counterpart: field diffs in the user's vocabulary,
create-only hits, secret and drift verdicts, sub-resource (child) actions. Pure.

Both sides are canonical specs (see `Resource.spec`), so comparing is plain equality after one
projection: a desired child item that leaves a ref unset (`config: None`) means "the
deployment's default", so the live value there is not compared.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from metorial_apply.core import fingerprint
from metorial_apply.core.kinds import CHILD_REFS, KindSpec
from metorial_apply.core.model import Address, Resource, parse_spec_path, spec_hash
from metorial_apply.core.specs import RULE_FIELDS
from metorial_apply.planning.action import Action, ChildChange, FieldDiff

REDACTED = "(secret)"
NAMING_NEEDS_KEY = (f"naming the changed key of a secret value needs {fingerprint.KEY_ENV} "
                    "(`metorial-apply keygen`)")
LABELS = {"tool_filters": "tools"}  # canonical spec field → the YAML word users know


def label(field: str) -> str:
    return LABELS.get(field, field)


def yaml_rules(rules: list[dict[str, Any]]) -> list[Any]:
    """Canonical tool rules → the YAML shorthand (`[create_issue, {tool_regex: ^list_}]`)."""
    out: list[Any] = []
    for rule in rules or []:
        kind = rule.get("type")
        if kind == "tool_keys":
            out += list(rule.get("keys") or [])
        elif kind in RULE_FIELDS:
            out.append({kind: rule.get(RULE_FIELDS[kind])})
        else:
            out.append(dict(rule))
    return out


def present(field: str, value: Any) -> Any:
    """A canonical value as the user would write it in YAML."""
    if field == "tool_filters":
        return yaml_rules(value)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [present_spec(v) for v in value]
    return value


def present_spec(spec: dict[str, Any], sensitive: Iterable[str] = ()) -> dict[str, Any]:
    """A canonical spec in YAML vocabulary, unset (None) fields dropped, sensitive ones redacted."""
    hidden = set(sensitive)
    return {label(k): REDACTED if k in hidden else present(k, v) for k, v in spec.items() if v is not None}


def redacted_view(kind: KindSpec, spec: dict[str, Any] | None, sensitive: frozenset[str],
                  has_secret: bool) -> dict[str, Any] | None:
    """`before`/`after` of a change: the presented spec with secrets as `(secret)`."""
    if spec is None:
        return None
    view = present_spec(spec, sensitive)
    if has_secret:
        view |= dict.fromkeys(kind.secret_fields, REDACTED)
    return view


def project_live(kind: KindSpec, desired: dict[str, Any], live: dict[str, Any],
                 owned: frozenset[Address] = frozenset()) -> dict[str, Any]:
    """Live spec as desired would see it: a child ref the desired item leaves unset means "the
    deployment's default", so the live value is ignored there, unless it names one of our own
    resources (then the user removed an explicit ref, which is a change)."""
    child = kind.children
    if child is None:
        return live
    wanted = {item[child.key]: item for item in desired.get(child.field) or []}
    items = []
    for item in live.get(child.field) or []:
        mine = wanted.get(item[child.key])
        if mine is not None:
            item = {k: (None if _defaulted(k, v, mine, child.key, owned) else v) for k, v in item.items()}
        items.append(item)
    return live | {child.field: items}


def _defaulted(field: str, value: Any, desired_item: dict[str, Any], key: str, owned: frozenset[Address]) -> bool:
    if field == key or field not in CHILD_REFS or desired_item.get(field) is not None:
        return False
    return value is None or Address(kind=CHILD_REFS[field], name=value) not in owned


@dataclass(frozen=True)
class Comparison:
    """What differs between one desired and one live resource (before replace cascades)."""

    diffs: tuple[FieldDiff, ...]
    fields: tuple[str, ...]  # canonical top-level fields that differ (children excluded)
    create_only: tuple[str, ...]  # of those, the ones the API cannot patch
    children: tuple[ChildChange, ...]
    secret_changed: bool
    drift: bool  # live no longer matches the spec-hash stamped at the last apply
    config_changed: bool  # desired differs from the spec-hash stamped at the last apply
    live_spec: dict[str, Any]  # projected live spec
    notes: tuple[str, ...] = ()  # what the plan cannot do here, for the reader

    @property
    def changed(self) -> bool:
        return bool(self.fields or self.children or self.secret_changed)


def field_diffs(desired: dict[str, Any], live: dict[str, Any], skip: str | None,
                sensitive: frozenset[str]) -> tuple[list[FieldDiff], list[str]]:
    """Top-level field differences, sorted by field name for stable output."""
    diffs, fields = [], []
    for key in sorted(desired.keys() | live.keys()):
        if key == skip or desired.get(key) == live.get(key):
            continue
        fields.append(key)
        if key in sensitive:
            diffs.append(FieldDiff(field=label(key), before=REDACTED, after=REDACTED, secret=True))
        else:
            diffs.append(
                FieldDiff(field=label(key), before=present(key, live.get(key)), after=present(key, desired.get(key)))
            )
    return diffs, fields


def child_refs(item: dict[str, Any]) -> list[Address]:
    return [Address(kind=k, name=item[f]) for f, k in CHILD_REFS.items() if item.get(f)]


def _changed_child(kind: KindSpec, key: str, want: dict[str, Any], have: dict[str, Any],
                   child_id: str | None, replaced: frozenset[Address]) -> tuple[list[FieldDiff], ChildChange | None]:
    child = kind.children
    assert child is not None
    prefix = f"{child.field}[{key}]"
    fields = sorted(f for f in want.keys() | have.keys() if want.get(f) != have.get(f))
    diffs = [FieldDiff(field=f"{prefix}.{label(f)}", before=present(f, have.get(f)), after=present(f, want.get(f)))
             for f in fields]
    moved = sorted((a for a in child_refs(want) if a in replaced), key=str)
    if moved and not fields:
        diffs.append(FieldDiff(field=prefix, before=", ".join(f"{a} (old)" for a in moved),
                               after=", ".join(f"{a} (new)" for a in moved)))
        return diffs, ChildChange(
            action=Action.REPLACE,
            key=key,
            reason="repoint to replaced " + ", ".join(map(str, moved)),
            id=child_id,
            after=want,
        )
    if not fields:
        return [], None
    if set(fields) <= child.patchable and not moved:
        return diffs, ChildChange(action=Action.UPDATE, key=key, reason=", ".join(map(label, fields)) + " changed",
                                  id=child_id, fields=tuple(fields), after=want)
    return diffs, ChildChange(action=Action.REPLACE, key=key, id=child_id, after=want,
                              reason=", ".join(map(label, fields)) + " changed: re-create")


def child_changes(kind: KindSpec, desired: dict[str, Any], live: dict[str, Any], ids: dict[str, str],
                  replaced: frozenset[Address]) -> tuple[list[FieldDiff], list[ChildChange]]:
    """Children diffed as a set keyed by `ChildSpec.key`: added, removed, changed, repointed."""
    child = kind.children
    if child is None:
        return [], []
    want = {i[child.key]: i for i in desired.get(child.field) or []}
    have = {i[child.key]: i for i in live.get(child.field) or []}
    diffs: list[FieldDiff] = []
    changes: list[ChildChange] = []
    for key in sorted(want.keys() | have.keys()):
        prefix = f"{child.field}[{key}]"
        if key not in have:
            diffs.append(FieldDiff(field=prefix, before=None, after=present_spec(want[key])))
            changes.append(ChildChange(action=Action.CREATE, key=key, reason="not in live state", after=want[key]))
        elif key not in want:
            diffs.append(FieldDiff(field=prefix, before=present_spec(have[key]), after=None))
            changes.append(ChildChange(action=Action.DELETE, key=key, reason="not in config", id=ids.get(key)))
        else:
            more, change = _changed_child(kind, key, want[key], have[key], ids.get(key), replaced)
            diffs += more
            changes += [change] if change else []
    return diffs, changes


def unignored(spec: dict[str, Any], ignore: frozenset[str]) -> dict[str, Any]:
    """`spec` without the fields `ignore:` leaves to the dashboard (neither side compares them)."""
    return {k: v for k, v in spec.items() if k not in ignore} if ignore else spec


def secret_ignored(kind: KindSpec, desired: Resource) -> bool:
    """True when `ignore:` names the kind's write-only value: its fingerprint is not compared."""
    return bool(desired.ignore & set(kind.secret_fields))


def ignored_note(desired: Resource) -> str:
    """The one plan note of a resource with `ignore:`, in YAML words."""
    return "ignored: " + ", ".join(sorted(label(f) for f in desired.ignore))


def secret_changed(desired: Resource, live: Resource, key: fingerprint.FingerprintKey | None = None) -> bool:
    """Compare the desired secret with the live stamp's fingerprint (using the live salt, and
    `key` for a keyed fingerprint)."""
    if desired.secret is None:
        return False
    return not fingerprint.matches(desired.secret, live.stamp, key)


def secret_diff(kind: KindSpec) -> FieldDiff:
    return FieldDiff(field=", ".join(kind.secret_fields) or "value", before=REDACTED, after=REDACTED, secret=True)


def secret_diffs(kind: KindSpec, desired: Resource, live: Resource,
                 key: fingerprint.FingerprintKey | None) -> tuple[list[FieldDiff], list[str]]:
    """A changed secret's diff lines (and notes): with per-key fingerprints (keyed mode) one line
    per changed top-level key, `before` None when added and `after` None when removed; else one
    line for the whole value. Names only: both sides stay redacted."""
    whole = secret_diff(kind)
    assert desired.secret is not None
    keys = fingerprint.changed_keys(desired.secret, live.stamp, key) if len(kind.secret_fields) == 1 else None
    if keys:
        return [FieldDiff(field=f"{whole.field}.{name}", before=None if how == "added" else REDACTED,
                          after=None if how == "removed" else REDACTED, secret=True) for name, how in keys], []
    # Scrypt mode keeps one fingerprint per value (per-key scrypt would let weak fields be
    # guessed one at a time), so only the keyed mode can name the key.
    unnamed = key is None and isinstance(desired.secret.reveal(), dict) and len(kind.secret_fields) == 1
    return [whole], [NAMING_NEEDS_KEY] if unnamed else []


def as_stamped(kind: KindSpec, spec: dict[str, Any], moved: Mapping[Address, Address]) -> dict[str, Any]:
    """`spec` with each reference to a moved object by the name it had when the stamp was written:
    the live read names it by its new address, and a deployment moved with its config is no drift
    of the config."""
    hits = [(path, moved[ref]) for path, ref in kind.references(spec) if ref in moved]
    if not hits:
        return spec
    out = copy.deepcopy(spec)
    for path, old in hits:
        *parents, last = parse_spec_path(path)
        holder: Any = out
        for part in parents:
            holder = holder[part]
        holder[last] = old.name
    return out


def _against_stamp(desired: Resource, live: Resource, live_spec: dict[str, Any]) -> tuple[bool, bool]:
    """(drift, config changed): live and desired each against the spec-hash stamped at the last apply."""
    stored = live.stamp.spec_hash if live.stamp else None
    if stored is None:
        return False, True
    # The stored hash left out the fields sensitive when applied (recorded in the stamp since
    # it has the `sensitive` key; older stamps: assume the desired side's) and those ignored.
    applied = live.stamp.sensitive if live.stamp and live.stamp.sensitive is not None else None
    left_out = frozenset(applied) if applied is not None else desired.sensitive
    left_out |= frozenset(live.stamp.ignore or ()) if live.stamp else frozenset()
    return (spec_hash(live_spec, left_out) != stored,
            spec_hash(desired.spec, desired.sensitive | desired.ignore) != stored)


def compare(kind: KindSpec, desired: Resource, live: Resource, replaced: frozenset[Address] = frozenset(),
            owned: frozenset[Address] = frozenset(), key: fingerprint.FingerprintKey | None = None,
            moved: Mapping[Address, Address] = {}) -> Comparison:  # never mutated
    """Compare one pair. `replaced` names addresses being replaced (their children repoint);
    `owned` is every live address of the stack; `key` checks keyed secret fingerprints; `moved`
    maps each address a `moved:` entry gives a live object to the one its stamp was written at."""
    live_spec = project_live(kind, desired.spec, live.spec, owned)
    kept = sorted(f for f in kind.kept_when_blank
                  if desired.spec.get(f) is None and live_spec.get(f) is not None and f not in desired.ignore)
    live_spec = live_spec | dict.fromkeys(kept)  # the API keeps them: asking to clear would never converge
    child_field = kind.children.field if kind.children else None
    # A field sensitive on either side stays hidden: the live value may still be the old secret.
    sensitive = desired.sensitive | live.sensitive
    want, have = unignored(desired.spec, desired.ignore), unignored(live_spec, desired.ignore)
    diffs, fields = field_diffs(want, have, child_field, sensitive)
    more, children = child_changes(kind, want, have, live.children, replaced)
    if child_field in sensitive:
        more = [FieldDiff(field=d.field, before=REDACTED, after=REDACTED, secret=True) for d in more]
    secret = not secret_ignored(kind, desired) and secret_changed(desired, live, key)
    secret_lines, notes = secret_diffs(kind, desired, live, key) if secret else ([], [])
    diffs += secret_lines
    if desired.protect != live.protect:
        diffs.append(FieldDiff(field="protect", before=live.protect, after=desired.protect))
        fields.append("protect")
    drift, config_changed = _against_stamp(desired, live, as_stamped(kind, live_spec, moved))
    return Comparison(
        diffs=tuple(diffs + more), fields=tuple(fields),
        create_only=tuple(f for f in fields if f in kind.create_only or f not in kind.patchable),
        children=tuple(children), secret_changed=secret, drift=drift, config_changed=config_changed,
        live_spec=live_spec,
        notes=tuple(f"the API cannot clear {kind.label}'s {label(f)}; set another text to change it" for f in kept)
        + tuple(notes),
    )
