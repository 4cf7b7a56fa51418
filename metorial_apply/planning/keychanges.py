"""Key changes as plan changes: one `api_key.NAME` Change per key, so text, Markdown, JSON, exit
codes and safety gates treat keys like every other address. Pure.

What a key change shows is public: the backend, key names (`<stack>~<name>~<generation>`), the
key type and identities (Metlo identifier, Metal client id). Never a secret.
"""

from __future__ import annotations

from typing import Any

from metorial_apply.core.keys import KEY_ADDRESS_KIND, LiveKey
from metorial_apply.core.model import Address
from metorial_apply.planning.action import Action, FieldDiff
from metorial_apply.planning.diff import NAMING_NEEDS_KEY
from metorial_apply.planning.keys import KeyChange, KeyPlan
from metorial_apply.planning.plan import Change, Plan

ACTIONS = {"create": Action.CREATE, "delete": Action.DELETE, "replace": Action.REPLACE, "rotate": Action.ROTATE,
           "noop": Action.NOOP}

RUN_FIRST = (Action.CREATE, Action.REPLACE, Action.ROTATE)  # key actions that run before the consumers


def _side(backend: str, key: LiveKey | None) -> dict[str, Any] | None:
    if key is None:
        return None
    return {"backend": backend, "name": key.name, "identity": key.identity} | (
        {"key_for": key.key_for} if key.key_for else {})


def _after(change: KeyChange) -> dict[str, Any] | None:
    if change.create is None:
        return _side(change.backend, change.keep)
    return {"backend": change.backend, "name": change.create} | ({"key_for": change.key_for} if change.key_for else {})


def _before(change: KeyChange) -> LiveKey | None:
    return change.keep or next(iter(change.retire), None) or next(iter(change.purge), None)


def _diffs(change: KeyChange) -> tuple[FieldDiff, ...]:
    old = [k.name for k in (*change.retire, *change.purge)]
    out = []
    if change.create:
        out.append(FieldDiff(field="name", before=", ".join(old) or None, after=change.create))
    elif old:
        out.append(FieldDiff(field="name", before=", ".join(old), after=change.keep.name if change.keep else None))
    return tuple(out)


def key_change(change: KeyChange) -> Change:
    before = _before(change)
    return Change(action=ACTIONS[change.action], address=change.address, reason=change.reason or "unchanged",
                  diffs=_diffs(change) if change.action != "noop" else (), before=_side(change.backend, before),
                  after=_after(change) if change.action != "delete" or change.keep else None,
                  id=before.identity if before else None)


def key_changes(plan: KeyPlan) -> tuple[Change, ...]:
    return tuple(key_change(c) for c in plan.changes)


def _explained(change: Change, holds: tuple[str, ...], keys: KeyPlan) -> Change:
    """A consumer replaced because its key gets a new generation says so."""
    new = [f"api_key.{name}" for name in holds if (k := keys.of(name)) is not None and k.create]
    if change.action is not Action.REPLACE or not new:
        return change
    return change.model_copy(update={"reason": f"{change.reason}: new key generation of {', '.join(new)}"})


def with_keys(plan: Plan, keys: KeyPlan, fingerprints: dict[str, str],
              consumers: dict[Address, tuple[str, ...]] | None = None) -> Plan:
    """The resource plan with one change per api key (creates, replaces and rotates before it, the rest
    after, each in name order), the key plan the
    applier runs, and the keys' live fingerprints for saved-plan staleness; `consumers` (address →
    keys held) explain the consumers replaced for a new key generation."""
    held = consumers or {}
    changes = tuple(_explained(c, held[c.address], keys) if c.address in held else c for c in plan.changes)
    # Shown in the order they run: new keys (and generations) before their consumers, deletes after.
    listed = key_changes(keys)
    ahead = tuple(c for c in listed if c.action in RUN_FIRST)
    behind = tuple(c for c in listed if c.action not in RUN_FIRST)
    # A consumer re-created for a new key generation: a fingerprint key would not name a changed
    # key of its value either (the key's secret is what changed), so that hint is left out.
    explained = {c.address for c, was in zip(changes, plan.changes, strict=True) if c is not was}
    notes = tuple(n for n in plan.notes if not (n.address in explained and n.text == NAMING_NEEDS_KEY))
    return plan.model_copy(update={"changes": ahead + changes + behind, "keys": keys, "notes": notes,
                                   "live_fingerprints": plan.live_fingerprints | fingerprints})


def without_keys(plan: Plan) -> Plan:
    """The resource changes only: what the step graph runs (keys run around it)."""
    return plan.model_copy(update={"changes": tuple(c for c in plan.changes if c.address.kind != KEY_ADDRESS_KIND)})
