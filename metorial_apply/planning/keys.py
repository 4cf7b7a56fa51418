"""Key planning: desired keys × the backends' key lists → what to create, rotate, replace, delete.

Pure (the clock comes in as `now`). A live key is ours when its name parses as
`<stack>~<name>~<generation>` for our stack (core/keys.py); of those, a key is *held* when a
consumer's stamp records its identity. An unheld key of ours is one whose secret was lost (a run
stopped between the key's create and its consumer's), so it is deleted and a key is created
again: a key's secret can never be read back, so there is nothing to adopt. Keys not ours are
never touched; they only count towards the backend's key limit. A name we create is the next
generation above every generation of ours the backend lists, and any key holding a name of
that form parses as ours, so a name we want can never be taken by a key that is not ours.

Not yet wired into Plan: `plan_keys` is the piece build_plan will call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from difflib import get_close_matches
from typing import Literal

from pydantic import Field

from metorial_apply.core.errors import PlanError
from metorial_apply.core.keys import (
    DEFAULT_KEY_TYPE,
    KEY_LIMITS,
    DesiredKey,
    LiveKey,
    key_address,
    key_name,
    parse_key_name,
)
from metorial_apply.core.model import Address, Frozen

KeyAction = Literal["create", "delete", "replace", "rotate", "noop"]
METLO_LIMIT_MESSAGE = "Maximum API Key Limit Reached: {limit}. Consider deleting any that are not in use."


class KeyChange(Frozen):
    """What happens to one key (by its YAML name), in apply order: `purge` first (keys of ours
    whose secret is lost), then `create`, then the consumers, then `retire` (the keys consumers
    held before)."""

    address: Address
    action: KeyAction
    backend: str
    create: str | None = None  # the name of the key to create (the next generation)
    key_for: str | None = None
    keep: LiveKey | None = None  # the held key that stays
    retire: tuple[LiveKey, ...] = ()
    purge: tuple[LiveKey, ...] = ()
    reason: str = ""


class KeyPlan(Frozen):
    changes: tuple[KeyChange, ...] = ()

    def of(self, name: str) -> KeyChange | None:
        return next((c for c in self.changes if c.address.name == name), None)


class KeyInputs(Frozen):
    """Everything key planning reads. `held` maps a key's YAML name to the identities its
    consumers' stamps record; `backend_types` maps each configured backend to metlo/metal."""

    stack: str
    desired: tuple[DesiredKey, ...] = ()
    live: tuple[LiveKey, ...] = ()  # every key of every backend read, ours or not
    backend_types: dict[str, str] = Field(default_factory=dict)
    held: dict[str, frozenset[str]] = Field(default_factory=dict)
    rotate: frozenset[str] = frozenset()  # YAML names from `--rotate api_key.NAME`
    # Keys a consumer being created again needs the secret of (shown once, so a new key): name → why
    forced: dict[str, str] = Field(default_factory=dict)
    now: float = 0.0  # seconds since the epoch, passed in by the CLI


def created_at(key: LiveKey) -> float | None:
    """The key's creation time in epoch seconds, None when the backend gave none readable."""
    try:
        return datetime.fromisoformat(key.created).timestamp() if key.created else None
    except ValueError:
        return None


def _ours(inputs: KeyInputs) -> dict[str, list[tuple[int, LiveKey]]]:
    """Our live keys by YAML name, as (generation, key), oldest generation first."""
    found: dict[str, list[tuple[int, LiveKey]]] = {}
    for key in inputs.live:
        parsed = parse_key_name(key.name, inputs.stack)
        if parsed is not None:
            found.setdefault(parsed.name, []).append((parsed.generation, key))
    return {name: sorted(keys, key=lambda p: (p[0], p[1].id)) for name, keys in found.items()}


def _due(key: LiveKey, desired: DesiredKey, inputs: KeyInputs) -> str | None:
    """Why the kept key must be rotated, if it must."""
    if desired.name in inputs.rotate:
        return "rotation requested (--rotate)"
    if desired.name in inputs.forced:
        return inputs.forced[desired.name]
    born = created_at(key)
    if desired.rotate_after_s is not None and born is not None and inputs.now - born >= desired.rotate_after_s:
        days = (inputs.now - born) / 86400
        return f"{days:.0f} days old; rotate_after is {desired.rotate_after_s // 86400} days"
    return None


def _held(desired: DesiredKey, keys: list[tuple[int, LiveKey]], inputs: KeyInputs) -> list[tuple[int, LiveKey]]:
    """The keys whose identity a consumer records. A key nobody consumes (its secret went to
    --secrets-out) has no record to check: every key of ours counts as held."""
    if not desired.consumers:
        return keys
    identities = inputs.held.get(desired.name, frozenset())
    return [(g, k) for g, k in keys if k.identity in identities]


def _wanted(desired: DesiredKey, inputs: KeyInputs, keys: list[tuple[int, LiveKey]]) -> KeyChange:
    """The change for one key of the YAML."""
    new_name = key_name(inputs.stack, desired.name, max((g for g, _ in keys), default=0) + 1)
    base = KeyChange(address=desired.address, action="create", backend=desired.backend, create=new_name,
                     key_for=desired.key_for)
    held = _held(desired, keys, inputs)
    if not held:
        lost = tuple(k for _, k in keys)
        if not lost:
            return base.model_copy(update={"reason": "not found on the backend"})
        why = "its secret was lost (no consumer holds it): deleted and created again"
        return base.model_copy(update={"action": "replace", "purge": lost, "reason": why})
    keep = ([k for _, k in held if k.backend == desired.backend] or [k for _, k in held])[-1]
    strays = tuple(k for _, k in keys if k is not keep)
    purge = tuple(k for k in strays if all(k is not h for _, h in held))
    retire = tuple(k for k in strays if k not in purge)
    why = _replace_reason(desired, keep) or _due(keep, desired, inputs)
    if why is not None:
        action: KeyAction = "rotate" if _replace_reason(desired, keep) is None else "replace"
        return base.model_copy(update={"action": action, "retire": (keep, *retire), "purge": purge, "reason": why})
    if purge or retire:
        return base.model_copy(update={"action": "delete", "create": None, "keep": keep, "retire": retire,
                                       "purge": purge, "reason": "keys of an earlier generation or lost secret"})
    return base.model_copy(update={"action": "noop", "create": None, "keep": keep})


def _replace_reason(desired: DesiredKey, keep: LiveKey) -> str | None:
    if keep.backend != desired.backend:
        return f"backend changed: {keep.backend} → {desired.backend}"
    if keep.key_for is not None and keep.key_for != (desired.key_for or DEFAULT_KEY_TYPE):
        return f"key_for changed: {keep.key_for} → {desired.key_for or DEFAULT_KEY_TYPE} (a key cannot be updated)"
    return None


def _removed(name: str, keys: list[tuple[int, LiveKey]]) -> KeyChange:
    return KeyChange(address=key_address(name), action="delete", backend=keys[-1][1].backend,
                     purge=tuple(k for _, k in keys), reason="not in the configuration")


def _check_rotate(inputs: KeyInputs) -> None:
    names = sorted(d.name for d in inputs.desired)
    for name in sorted(inputs.rotate - set(names)):
        close = get_close_matches(name, names, n=1)
        hint = f'; did you mean "api_key.{close[0]}"?' if close else ""
        raise PlanError(f"--rotate api_key.{name}: no such key in the configuration{hint}")


def _check_limits(changes: tuple[KeyChange, ...], inputs: KeyInputs) -> None:
    """The most keys a backend holds at once during the apply (purges run first, retires last)."""
    for backend, kind in sorted(inputs.backend_types.items()):
        limit = KEY_LIMITS.get(kind)
        if limit is None:
            continue
        on = [k for k in inputs.live if k.backend == backend]
        purged = sum(1 for c in changes for k in c.purge if k.backend == backend)
        created = sum(1 for c in changes if c.backend == backend and c.create)
        peak = len(on) - purged + created
        if peak > limit:
            foreign = sum(1 for k in on if parse_key_name(k.name, inputs.stack) is None)
            raise PlanError(f"key backend {backend}: this plan needs {peak} keys at once ({foreign} not ours) — "
                            + METLO_LIMIT_MESSAGE.format(limit=limit))


def plan_keys(inputs: KeyInputs) -> KeyPlan:
    """Every key change, sorted by name; raises PlanError for a plan that cannot work."""
    _check_rotate(inputs)
    ours = _ours(inputs)
    desired = {d.name: d for d in inputs.desired}
    changes = [_wanted(d, inputs, ours.get(name, [])) for name, d in desired.items()]
    changes += [_removed(name, keys) for name, keys in ours.items() if name not in desired]
    ordered = tuple(sorted(changes, key=lambda c: c.address.name))
    _check_limits(ordered, inputs)
    return KeyPlan(changes=ordered)


def held_identities(records: Mapping[Address, Mapping[str, str]]) -> dict[str, frozenset[str]]:
    """Consumer records (consumer address → key name → identity) → key name → identities held."""
    out: dict[str, set[str]] = {}
    for held in records.values():
        for name, identity in held.items():
            out.setdefault(name, set()).add(identity)
    return {name: frozenset(ids) for name, ids in out.items()}


def key_fingerprints(stack: str, live: tuple[LiveKey, ...]) -> dict[str, str]:
    """`api_key.NAME` → a digest of every live key of ours of that name (what a saved plan read):
    a key created, deleted or re-created since makes the saved plan stale."""
    found: dict[str, list[list[str]]] = {}
    for key in live:
        parsed = parse_key_name(key.name, stack)
        if parsed is not None:
            found.setdefault(parsed.name, []).append([key.backend, key.name, key.identity, key.created or ""])
    return {str(key_address(name)): "sha256:" + hashlib.sha256(json.dumps(sorted(rows)).encode()).hexdigest()[:32]
            for name, rows in found.items()}
