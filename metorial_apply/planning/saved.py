"""Saved plans: versioned JSON with a checksum, live fingerprints and a desired digest. Pure.

`plan_to_dict` is THE serialised form of a plan (render_json builds on it). A saved plan never
holds a secret: changes carry redacted before/after only, and `desired_digest` is one scrypt
over everything desired (specs and secrets together) under a per-stack salt, so a plan file
does not help guess a secret offline. `apply plan.json` reloads the config, checks
`verify_desired`, re-reads live state, checks `check_stale`, then `attach`es the resources.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from pydantic import ValidationError

from metorial_apply.core.errors import PlanError, StalePlanError
from metorial_apply.core.model import Address
from metorial_apply.core.state import State
from metorial_apply.planning.plan import FORMAT_VERSION, Action, Change, ChildChange, FieldDiff, Plan

TOOL = "metorial-apply"
DIGEST_N, DIGEST_R, DIGEST_P = 2**14, 8, 1  # one call per plan, so it can afford more work


def canonical_json(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept. The input of every checksum."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def checksum(body: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(body).encode()).hexdigest()


def _address(a: Address) -> str:
    return str(a)


def change_to_dict(c: Change) -> dict[str, Any]:
    """One change as JSON data: never the Resource objects (they may hold secrets)."""
    return {
        "action": c.action.value, "address": str(c.address), "kind": c.address.kind, "name": c.address.name,
        "reason": c.reason, "drift": c.drift, "id": c.id, "protect": c.protect,
        "replace_mode": c.replace_mode, "fields": list(c.fields),
        "diffs": [d.model_dump(mode="json") for d in c.diffs],
        "children": [ch.model_dump(mode="json") for ch in c.children],
        "before": c.before, "after": c.after,
        "depends_on": [_address(a) for a in c.depends_on],
        "delete_after": [_address(a) for a in c.delete_after],
    }


def plan_to_dict(plan: Plan, *, tool_version: str | None = None) -> dict[str, Any]:
    """The plan as JSON data with `format_version` and a `checksum` over everything else."""
    counts = plan.counts()
    body: dict[str, Any] = {
        "format_version": plan.format_version, "tool": TOOL, "stack": plan.stack,
        "config_path": plan.config_path, "desired_digest": plan.desired_digest,
        "summary": {a.value: counts[a] for a in Action},
        "changes": [change_to_dict(c) for c in plan.changes],
        "live_fingerprints": dict(sorted(plan.live_fingerprints.items())),
    }
    if tool_version is not None:
        body["tool_version"] = tool_version
    return body | {"checksum": checksum(body)}


def plan_to_json(plan: Plan, *, tool_version: str | None = None) -> str:
    """Saved-plan text: indented, key-sorted JSON, newline-terminated, byte-stable."""
    return (
        json.dumps(plan_to_dict(plan, tool_version=tool_version), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )


def change_from_dict(data: dict[str, Any]) -> Change:
    return Change(
        action=Action(data["action"]), address=Address.parse(data["address"]), reason=data["reason"],
        drift=bool(data.get("drift")), id=data.get("id"), protect=bool(data.get("protect")),
        replace_mode=data.get("replace_mode"), fields=tuple(data.get("fields") or ()),
        diffs=tuple(FieldDiff(**d) for d in data.get("diffs") or ()),
        children=tuple(ChildChange(**ch) for ch in data.get("children") or ()),
        before=data.get("before"), after=data.get("after"),
        depends_on=tuple(Address.parse(a) for a in data.get("depends_on") or ()),
        delete_after=tuple(Address.parse(a) for a in data.get("delete_after") or ()),
    )


def plan_from_dict(data: Any) -> Plan:
    """Validate version and checksum, then rebuild the Plan (changes without resources)."""
    if not isinstance(data, dict):
        raise PlanError("not a saved plan: expected a JSON object")
    version = data.get("format_version")
    if data.get("tool") != TOOL or not isinstance(version, int):
        raise PlanError("not a metorial-apply saved plan (no tool/format_version)")
    if version != FORMAT_VERSION:
        raise PlanError(
            f"saved plan format {version} is not supported (this version reads format {FORMAT_VERSION}); plan again"
        )
    body = {k: v for k, v in data.items() if k != "checksum"}
    stored = data.get("checksum")
    if not isinstance(stored, str) or not hmac.compare_digest(stored, checksum(body)):
        raise PlanError("saved plan checksum mismatch: the file was modified or corrupted; plan again")
    try:
        return Plan(
            format_version=version, stack=data["stack"], config_path=data.get("config_path"),
            desired_digest=data.get("desired_digest") or "",
            changes=tuple(change_from_dict(c) for c in data["changes"]),
            live_fingerprints=dict(data.get("live_fingerprints") or {}),
        )
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise PlanError(f"saved plan is malformed ({type(exc).__name__}); plan again") from None


def load_saved_plan(text: str) -> Plan:
    """Parse saved-plan text; any corruption is a PlanError with a clear message."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PlanError(f"saved plan is not valid JSON (line {getattr(exc, 'lineno', '?')}); plan again") from None
    return plan_from_dict(data)


def live_fingerprints(live: State) -> dict[str, str]:
    """Address → fingerprint of every live resource read."""
    return {str(r.address): r.fingerprint or "" for r in live}


def check_stale(plan: Plan, live: State) -> None:
    """Raise StalePlanError naming every resource whose live object changed, appeared or vanished."""
    if live.stack != plan.stack:
        raise StalePlanError([], f"the saved plan is for stack {plan.stack!r}, not {live.stack!r}")
    now, then = live_fingerprints(live), plan.live_fingerprints
    moved = [f"{a} (changed)" for a in sorted(now.keys() & then.keys()) if now[a] != then[a]]
    moved += [f"{a} (appeared)" for a in sorted(now.keys() - then.keys())]
    moved += [f"{a} (vanished)" for a in sorted(then.keys() - now.keys())]
    if moved:
        raise StalePlanError(moved, "the saved plan is stale; live state changed since it was made: "
                             + ", ".join(moved) + ". Run plan again.")


def _desired_material(desired: State) -> bytes:
    rows = [[str(r.address), r.spec, sorted(r.sensitive), r.protect,
             r.secret.canonical().decode() if r.secret is not None else None] for r in desired]
    return hashlib.sha256(canonical_json([desired.stack, rows]).encode()).digest()


def digest_salt(stack: str) -> str:
    """The salt of a stack's desired digest. Derived from the stack, not random, so the same
    inputs give a byte-identical plan file (and PR footer); scrypt still makes each guess at
    a secret cost a full scrypt, and the salt still differs between stacks."""
    return hashlib.sha256(b"metorial-apply/desired-digest\0" + stack.encode()).hexdigest()[:32]


def desired_digest(desired: State, salt: str | None = None) -> str:
    """`scrypt:N:R:P:salt:hex` over every desired spec and secret (salt: hex, default per stack)."""
    salt = salt if salt is not None else digest_salt(desired.stack)
    raw = hashlib.scrypt(_desired_material(desired), salt=bytes.fromhex(salt), n=DIGEST_N, r=DIGEST_R,
                         p=DIGEST_P, dklen=16, maxmem=2**26)
    return f"scrypt:{DIGEST_N}:{DIGEST_R}:{DIGEST_P}:{salt}:{raw.hex()}"


def verify_desired(plan: Plan, desired: State) -> None:
    """Raise StalePlanError when the reloaded config differs from the one the plan was made from."""
    parts = plan.desired_digest.split(":")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise PlanError("saved plan has no usable desired digest; plan again")
    try:
        again = desired_digest(desired, parts[4])
    except ValueError:
        raise PlanError("saved plan has a malformed desired digest; plan again") from None
    if not hmac.compare_digest(again, plan.desired_digest):
        raise StalePlanError(
            [], "the configuration changed since the plan was made (specs or secrets differ); plan again"
        )


def attach(plan: Plan, desired: State, live: State) -> Plan:
    """Re-attach the desired and live resources to a loaded plan's changes, by address."""
    want, have = desired.by_address(), live.by_address()
    changes = tuple(c.model_copy(update={"desired": want.get(c.address), "live": have.get(c.address)})
                    for c in plan.changes)
    return plan.model_copy(update={"changes": changes})
