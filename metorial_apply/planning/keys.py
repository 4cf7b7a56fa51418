"""The api_key kind's planning: desired keys × the backends' key lists → one Change per key, settled
with the changes of the resources that consume them. Pure (the clock comes in as `now`).

A key of ours (core/keys.py: named `<stack>~<name>~<generation>`) is *held* when a consumer's
stamp records its identity. One nobody holds lost its secret (a run stopped between the key's
create and its consumer's): it is replaced delete-first, since a secret is never readable again.
A rotation is a replace whose new object is the next generation; the graph deletes the earlier
generations once every consumer let go of them. Keys not ours are never touched; they only
count towards a backend's limit. Each consumer is compared with its value bound to the identity
of the generation it will hold (PENDING for a new one), so a new generation replaces it through
the usual diff; and a consumer that sends its value needs its key's secret, which nobody kept,
so that key gets a new generation too (`settle`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from difflib import get_close_matches
from functools import partial
from typing import Any

from metorial_apply.core.errors import PlanError
from metorial_apply.core.keys import (
    DEFAULT_KEY_TYPE,
    KEY_LIMITS,
    DesiredKey,
    LiveKey,
    bind,
    consumed,
    key_address,
    key_name,
    keys_in,
    parse_key_name,
)
from metorial_apply.core.kinds import KINDS, key_from_api, key_resource
from metorial_apply.core.model import Address, Resource, parse_held
from metorial_apply.core.state import State
from metorial_apply.planning.action import Action, FieldDiff, Note
from metorial_apply.planning.change import Change
from metorial_apply.planning.diff import NAMING_NEEDS_KEY
from metorial_apply.planning.recorded import index_note

PENDING = "(new)"  # the identity of a key generation not created yet
METLO_LIMIT_MESSAGE = "Maximum API Key Limit Reached: {limit}. Consider deleting any that are not in use."
NEW_GENERATION = (Action.CREATE, Action.REPLACE, Action.ROTATE)
Changes = dict[Address, Change]
Generations = list[tuple[int, LiveKey]]
Diff = Callable[[State], tuple[Changes, list[Note]]]


@dataclass(frozen=True)
class KeyInputs:
    """What key planning reads besides the YAML's keys: the live keys, the consumers' records
    (`held`: key name → identities held), `--rotate` names, and the clock."""

    stack: str
    desired: tuple[DesiredKey, ...]
    live: tuple[LiveKey, ...]
    types: dict[str, str]  # backend name → metlo/metal
    held: dict[str, frozenset[str]] = field(default_factory=dict)
    consumed: frozenset[str] = frozenset()  # keys some desired resource's value holds
    rotate: frozenset[str] = frozenset()
    now: float = 0.0
    unread: frozenset[str] = frozenset()  # backends whose keys are the stack index's record, not a listing


def key_inputs(desired: State, live: State, rotate: Iterable[str] = (), now: float = 0.0) -> KeyInputs:
    held: dict[str, set[str]] = {}
    for resource in live:
        for name, identity in (parse_held(resource.stamp.keys if resource.stamp else None) or {}).items():
            held.setdefault(name, set()).add(identity)
    return KeyInputs(stack=desired.stack, desired=desired.api_keys, live=live.keys or (),
                     types={b.name: b.type for b in desired.key_backends},
                     held={name: frozenset(ids) for name, ids in held.items()}, consumed=consumed(desired),
                     rotate=frozenset(rotate), now=now, unread=live.unread_backends)


def created_at(key: LiveKey) -> float | None:
    """The key's creation time in epoch seconds, None when the backend gave none readable."""
    try:
        return datetime.fromisoformat(key.created).timestamp() if key.created else None
    except ValueError:
        return None


def _ours(inputs: KeyInputs) -> dict[str, Generations]:
    """Our live keys by YAML name, as (generation, key), oldest generation first."""
    found: dict[str, Generations] = {}
    for key in inputs.live:
        parsed = parse_key_name(key.name, inputs.stack)
        if parsed is not None:
            found.setdefault(parsed.name, []).append((parsed.generation, key))
    return {name: sorted(keys, key=lambda p: (p[0], p[1].id)) for name, keys in found.items()}


def _side(key: LiveKey | None) -> dict[str, Any] | None:
    return {k: v for k, v in key_from_api(key.model_dump()).items() if v is not None} if key else None


def _change(address: Address, action: Action, backend: str, *, create: str | None = None,
            key_for: str | None = None, keep: LiveKey | None = None, old: tuple[LiveKey, ...] = (),
            reason: str = "", delete_first: bool = False) -> Change:
    """One key's change: the generation it creates, the one it keeps, the earlier ones its delete
    step removes (`old`: deleted before the create when nothing holds them, else after)."""
    before = keep or next(iter(old), None)
    names = ", ".join(k.name for k in old) or None
    diffs = (FieldDiff(field="name", before=names, after=create or (keep.name if keep else None)),) \
        if create or old else ()
    made = {"backend": backend, "name": create} | ({"key_for": key_for} if key_for else {})
    desired = Resource(address=address, spec=made) if create else key_resource(keep, address) if keep else None
    return Change(action=action, address=address, reason=reason or "unchanged", diffs=diffs, before=_side(before),
                  after=made if create else _side(keep), id=before.identity if before else None,
                  desired=desired.model_copy(update={"id": None}) if desired else None,
                  live=key_resource(before, address) if before else None,
                  old=tuple(key_resource(k, address) for k in old),
                  replace_mode="delete_first" if delete_first else None)


def _due(key: LiveKey, desired: DesiredKey, inputs: KeyInputs, forced: dict[str, str]) -> str | None:
    """Why the kept key must be rotated, if it must."""
    if desired.name in inputs.rotate:
        return "rotation requested (--rotate)"
    if desired.name in forced:
        return forced[desired.name]
    born = created_at(key)
    if desired.rotate_after_s is not None and born is not None and inputs.now - born >= desired.rotate_after_s:
        days = (inputs.now - born) / 86400
        return f"{days:.0f} days old; rotate_after is {desired.rotate_after_s // 86400} days"
    return None


def _held(desired: DesiredKey, keys: Generations, inputs: KeyInputs) -> Generations:
    """The keys whose identity a consumer records. A key nobody consumes (its secret went to
    --secrets-out) has no record to check: every key of ours counts as held."""
    if desired.name not in inputs.consumed:
        return keys
    identities = inputs.held.get(desired.name, frozenset())
    return [(g, k) for g, k in keys if k.identity in identities]


def _replace_reason(desired: DesiredKey, keep: LiveKey) -> str | None:
    if keep.backend != desired.backend:
        return f"backend changed: {keep.backend} → {desired.backend}"
    if keep.key_for is not None and keep.key_for != (desired.key_for or DEFAULT_KEY_TYPE):
        return f"key_for changed: {keep.key_for} → {desired.key_for or DEFAULT_KEY_TYPE} (a key cannot be updated)"
    return None


def _wanted(desired: DesiredKey, inputs: KeyInputs, keys: Generations, forced: dict[str, str]) -> Change:
    """The change for one key of the YAML."""
    new = key_name(inputs.stack, desired.name, max((g for g, _ in keys), default=0) + 1)
    make = partial(_change, desired.address, backend=desired.backend, key_for=desired.key_for)
    held = _held(desired, keys, inputs)
    if not held:
        if not keys:
            return make(Action.CREATE, create=new, reason="not found on the backend")
        return make(Action.REPLACE, create=new, old=tuple(k for _, k in keys), delete_first=True,
                    reason="its secret was lost (no consumer holds it): deleted and created again")
    keep = ([k for _, k in held if k.backend == desired.backend] or [k for _, k in held])[-1]
    strays = tuple(k for _, k in keys if k is not keep)
    purge = tuple(k for k in strays if all(k is not h for _, h in held))
    retire = tuple(k for k in strays if k not in purge)
    replace = _replace_reason(desired, keep)
    why = replace or _due(keep, desired, inputs, forced)
    if why is not None:
        action = Action.ROTATE if replace is None else Action.REPLACE
        return make(action, create=new, old=(keep, *retire, *purge), reason=why)
    if purge or retire:
        why = "keys of an earlier generation or lost secret"
        return make(Action.DELETE, keep=keep, old=(*retire, *purge), reason=why)
    return make(Action.NOOP, keep=keep)


def _removed(name: str, keys: Generations) -> Change:
    return _change(key_address(name), Action.DELETE, keys[-1][1].backend, old=tuple(k for _, k in keys),
                   reason="not in the configuration")


def _check_rotate(inputs: KeyInputs) -> None:
    names = sorted(d.name for d in inputs.desired)
    for name in sorted(inputs.rotate - set(names)):
        close = get_close_matches(name, names, n=1)
        hint = f'; did you mean "api_key.{close[0]}"?' if close else ""
        raise PlanError(f"--rotate api_key.{name}: no such key in the configuration{hint}")


def _check_limits(keys: list[Change], inputs: KeyInputs) -> None:
    """The most keys a backend holds at once during the apply (lost keys go before their
    replacement is created; every other old generation after the new one)."""
    for backend, kind in sorted(inputs.types.items()):
        limit = KEY_LIMITS.get(kind)
        if limit is None:
            continue
        on = [k for k in inputs.live if k.backend == backend]
        purged = sum(1 for c in keys if c.replace_mode == "delete_first" for k in c.old
                     if k.spec["backend"] == backend)
        created = sum(1 for c in keys if c.action in NEW_GENERATION and c.desired
                      and c.desired.spec["backend"] == backend)
        peak = len(on) - purged + created
        if peak > limit:
            foreign = sum(1 for k in on if parse_key_name(k.name, inputs.stack) is None)
            raise PlanError(f"key backend {backend}: this plan needs {peak} keys at once ({foreign} not ours) — "
                            + METLO_LIMIT_MESSAGE.format(limit=limit))


def plan_keys(inputs: KeyInputs, forced: dict[str, str] | None = None) -> Changes:
    """One change per key (`forced`: key name → why a consumer needs a new generation); raises
    PlanError for a plan that cannot work."""
    _check_rotate(inputs)
    ours, forced = _ours(inputs), forced or {}
    desired = {d.name: d for d in inputs.desired}
    keys = [_wanted(d, inputs, ours.get(name, []), forced) for name, d in desired.items()]
    keys += [_removed(name, found) for name, found in ours.items() if name not in desired]
    _check_limits(keys, inputs)
    return {k.address: k for k in keys}


# -- consumers --------------------------------------------------------------------------------


def planned_identities(keys: Changes) -> dict[str, str]:
    """Key name → the identity its consumers hold after the apply (PENDING for a new generation)."""
    return {a.name: (c.desired.spec.get("identity") or PENDING) for a, c in keys.items() if c.desired is not None}


def bind_state(desired: State, identities: dict[str, str]) -> State:
    """`desired` with every consumer's value bound to `identities` (PENDING where unknown)."""
    def bound(r: Resource) -> Resource:
        held = {name: identities.get(name, PENDING) for name in keys_in(r.secret)}
        return r.model_copy(update={"secret": bind(r.secret, held)}) if held and r.secret is not None else r

    return desired.with_resources([bound(r) for r in desired])


def _sends_value(change: Change) -> bool:
    fields = set(KINDS[change.address.kind].secret_fields)
    return change.action in (Action.CREATE, Action.REPLACE) or bool(fields & set(change.fields))


def _needs_secret(desired: State, keys: Changes, changes: Changes, forced: dict[str, str]) -> dict[str, str]:
    """Kept keys (no new generation) whose secret a consumer sending its value needs."""
    out: dict[str, str] = {}
    for resource in desired:
        change = changes.get(resource.address)
        if change is None or not _sends_value(change):
            continue
        for name in sorted(keys_in(resource.secret)):
            key = keys.get(key_address(name))
            if key is not None and key.action not in NEW_GENERATION and name not in forced and name not in out:
                out[name] = f"{resource.address} is created and needs the key's secret (shown only once): new key"
    return out


def _explained(change: Change, template: Resource, keys: Changes) -> Change:
    """A consumer carries its value template (slots, filled at apply time); one replaced because
    its key gets a new generation says so."""
    new = [f"api_key.{n}" for n in sorted(keys_in(template.secret))
           if (k := keys.get(key_address(n))) is not None and k.action in NEW_GENERATION]
    update: dict[str, Any] = {"desired": template} if change.desired is not None else {}
    if change.action is Action.REPLACE and new:
        update["reason"] = f"{change.reason}: new key generation of {', '.join(new)}"
    return change.model_copy(update=update)


def settle(desired: State, inputs: KeyInputs, diff: Diff) -> tuple[Changes, list[Note]]:
    """Key changes and the resource changes `diff` makes of the bound desired State, consistent
    with each other. Each round forces at least one more key to a new generation, so it ends
    within one round per key."""
    forced: dict[str, str] = {}
    for _ in range(len(inputs.desired) + 1):
        keys = plan_keys(inputs, forced)
        changes, notes = diff(bind_state(desired, planned_identities(keys)))
        more = _needs_secret(desired, keys, changes, forced)
        if not more:
            return _joined(desired, keys, changes, notes + index_notes(keys, inputs))
        forced |= more
    raise AssertionError("unreachable: every round forces a new key")


def index_notes(keys: Changes, inputs: KeyInputs) -> list[Note]:
    """A note on each key planned from the stack index (its backend was not read)."""
    desired, ours = {d.name: d for d in inputs.desired}, _ours(inputs)
    notes = [index_note(a.name, d.backend if d else None, [k for _, k in ours.get(a.name, [])],
                        inputs.held.get(a.name, frozenset()), inputs.unread, bool(d and d.rotate_after_s))
             for a in keys for d in [desired.get(a.name)]]
    return [n for n in notes if n is not None]


def _joined(desired: State, keys: Changes, changes: Changes, notes: list[Note]) -> tuple[Changes, list[Note]]:
    templates = {r.address: r for r in desired if keys_in(r.secret)}
    out = {a: _explained(c, templates[a], keys) if a in templates else c for a, c in changes.items()}
    # A consumer re-created for a new key generation: a fingerprint key would not name a changed
    # key of its value either (the key's secret is what changed), so that hint is left out.
    explained = {a for a, c in out.items() if c.reason != changes[a].reason}
    kept = [n for n in notes if not (n.address in explained and n.text == NAMING_NEEDS_KEY)]
    return out | keys, kept
