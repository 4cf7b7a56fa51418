"""Consumers of keys in a plan: their values bound to the key identity they will hold, and the
cascade between key generations and consumers. Pure.

A consumer's write-only value holds slots (core/keyslots.py). For planning, each slot is bound
to the identity of the key generation the consumer will hold after the apply: the kept key's,
or PENDING when a new generation is created. The usual fingerprint comparison then does the
rest: a new generation changes the bound value, so every consumer of a rotated key is replaced
(vault and config values are create-only), and what hangs on it follows the usual replace
cascade. The other way round, a consumer created (or created again) for any reason needs the
key's secret, which the backend showed once and nobody kept: so its keys get a new generation
too (`settle`), and with them every other consumer of those keys.
"""

from __future__ import annotations

from collections.abc import Callable

from metorial_apply.core.keys import DesiredKey
from metorial_apply.core.keyslots import bind, keys_in
from metorial_apply.core.model import Address, Resource
from metorial_apply.core.state import State
from metorial_apply.planning.keys import KeyInputs, KeyPlan, plan_keys
from metorial_apply.planning.plan import Change, Plan

PENDING = "(new)"  # the identity of a key generation not created yet


def planned_identities(plan: KeyPlan) -> dict[str, str]:
    """Key name → the identity its consumers hold after the apply (PENDING for a new generation)."""
    return {c.address.name: PENDING if c.create else (c.keep.identity if c.keep else PENDING)
            for c in plan.changes}


def _bound(resource: Resource, identities: dict[str, str]) -> Resource:
    if resource.secret is None or not keys_in(resource.secret):
        return resource
    return resource.model_copy(update={"secret": bind(resource.secret, identities)})


def bind_state(desired: State, identities: dict[str, str]) -> State:
    """`desired` with every consumer's value bound to `identities` (its slots otherwise as they were)."""
    missing = {name: PENDING for r in desired for name in keys_in(r.secret) if name not in identities}
    return desired.with_resources([_bound(r, identities | missing) for r in desired])


def _needs_secret(desired: State, plan: KeyPlan, recreated: frozenset[Address], forced: dict[str, str]
                  ) -> dict[str, str]:
    """Kept keys (no new generation) that a consumer being created needs the secret of."""
    out: dict[str, str] = {}
    for resource in desired:
        if resource.address not in recreated:
            continue
        for name in sorted(keys_in(resource.secret)):
            change = plan.of(name)
            if change is not None and change.create is None and name not in forced and name not in out:
                out[name] = f"{resource.address} is created and needs the key's secret (shown only once): new key"
    return out


def settle(inputs: KeyInputs, desired: State, recreated: Callable[[State], frozenset[Address]]
           ) -> tuple[KeyPlan, State]:
    """The key plan and the bound desired State, consistent with each other: `recreated(bound)`
    names the consumers the resource plan creates or replaces. Each round forces at least one
    more key to a new generation, so it ends within one round per key."""
    forced = dict(inputs.forced)
    for _ in range(len(inputs.desired) + 1):
        plan = plan_keys(inputs.model_copy(update={"forced": forced}))
        bound = bind_state(desired, planned_identities(plan))
        more = _needs_secret(desired, plan, recreated(bound), forced)
        if not more:
            return plan, bound
        forced |= more
    raise AssertionError("unreachable: every round forces a new key")


def consumers(keys: tuple[DesiredKey, ...]) -> dict[Address, tuple[str, ...]]:
    """Consumer address → the keys its value holds."""
    out: dict[Address, list[str]] = {}
    for key in keys:
        for address in key.consumers:
            out.setdefault(address, []).append(key.name)
    return {address: tuple(sorted(names)) for address, names in out.items()}


def rebind_plan(plan: Plan, templates: State, identities: dict[str, str]) -> Plan:
    """The plan with every consumer's desired value bound to the identities its keys have now
    (after the run's key creates): what its stamp's fingerprint is computed from."""
    have = templates.by_address()

    def rebound(change: Change) -> Change:
        template = have.get(change.address)
        if change.desired is None or template is None or not keys_in(template.secret):
            return change
        known = identities | {name: PENDING for name in keys_in(template.secret) if name not in identities}
        return change.model_copy(update={"desired": _bound(template, known).model_copy(
            update={"spec": change.desired.spec})})

    return plan.model_copy(update={"changes": tuple(rebound(c) for c in plan.changes)})
