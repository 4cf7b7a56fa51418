"""Saved plans: versioned JSON with a checksum, live fingerprints and a desired digest. Pure.

`plan_to_dict` is THE serialised form of a plan (render_json builds on it). A saved plan never
holds a secret: changes carry redacted before/after only, and `desired_digest` is one scrypt
over everything desired (specs and secrets together) under a per-stack salt, so a plan file
does not help guess a secret offline.

A saved plan is untrusted input: a reviewed intent, never a source of ids, actions or flags.
`apply plan.json` reloads the config (`verify_desired`), re-reads live state (`check_stale`),
builds the plan again and applies that one only if `same_plan` finds it equal to the file
change for change. With a fingerprint key the checksum is an HMAC under a subkey of its own,
so a plan edited and re-checksummed without the key is refused before anything is read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from pydantic import ValidationError

from metorial_apply.core import jsonout
from metorial_apply.core.errors import PlanError, StalePlanError
from metorial_apply.core.fingerprint import KEY_ENV, FingerprintKey
from metorial_apply.core.keys import KEY_ADDRESS_KIND
from metorial_apply.core.kinds import KINDS
from metorial_apply.core.model import Address
from metorial_apply.core.state import State
from metorial_apply.planning.diff import REDACTED
from metorial_apply.planning.inputs import PlanInputs
from metorial_apply.planning.plan import (
    FORMAT_VERSION,
    Action,
    Change,
    ChildChange,
    FieldDiff,
    Plan,
    live_fingerprints,
)
from metorial_apply.planning.recorded import key_fingerprints, key_moved

TOOL = "metorial-apply"
DIGEST_N, DIGEST_R, DIGEST_P = 2**14, 8, 1  # one call per plan, so it can afford more work


def canonical_json(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept. The input of every checksum."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


CHECKSUM_LABEL = b"metorial-apply plan checksum v1"  # this subkey's purpose; no other key uses it
HMAC_PREFIX = "hmac-sha256:"


def checksum_subkey(key: FingerprintKey) -> bytes:
    """The plan-checksum key: derived from the fingerprint key for this purpose alone, so a
    plan checksum never reveals or equals anything the fingerprints use."""
    return hmac.new(key.material, CHECKSUM_LABEL, hashlib.sha256).digest()


def checksum(body: dict[str, Any], key: FingerprintKey | None = None) -> str:
    """`sha256:<hex>` of the canonical body, or with `key` `hmac-sha256:<key_id>:<hex>`."""
    data = canonical_json(body).encode()
    if key is None:
        return "sha256:" + hashlib.sha256(data).hexdigest()
    return f"{HMAC_PREFIX}{key.key_id}:{hmac.new(checksum_subkey(key), data, hashlib.sha256).hexdigest()}"


def check_checksum(stored: Any, body: dict[str, Any], key: FingerprintKey | None) -> None:
    """Refuse a checksum of the wrong scheme for `key` (a plain sha256 is what anyone can
    recompute after an edit), or one that does not match."""
    if not isinstance(stored, str):
        raise PlanError("saved plan has no checksum; plan again")
    if key is not None and not stored.startswith(HMAC_PREFIX):
        raise PlanError(f"saved plan is not signed with the key in {KEY_ENV} (its checksum is a plain sha256, "
                        "which anyone can recompute after editing it); plan again with the key set")
    if key is None and stored.startswith(HMAC_PREFIX):
        raise PlanError(f"saved plan is signed with a key (key id {stored.split(':')[1][:8]!r}); "
                        f"set {KEY_ENV} to that key to apply it")
    if not hmac.compare_digest(stored, checksum(body, key)):
        raise PlanError("saved plan checksum mismatch: the file was modified or corrupted (or signed with another "
                        "key); plan again")


def _address(a: Address) -> str:
    return str(a)


def change_to_dict(c: Change) -> dict[str, Any]:
    """One change as JSON data: never the Resource objects (they may hold secrets)."""
    return {
        "action": c.action.value, "address": str(c.address), "kind": c.address.kind, "name": c.address.name,
        "reason": c.reason, "drift": c.drift, "id": c.id, "protect": c.protect,
        "replace_mode": c.replace_mode, "fields": list(c.fields),
        "diffs": [d.model_dump(mode="json") for d in c.diffs],
        "children": [_child_dict(c, ch) for ch in c.children],
        "before": c.before, "after": c.after,
        "depends_on": [_address(a) for a in c.depends_on],
        "delete_after": [_address(a) for a in c.delete_after],
        "moved_from": str(c.moved_from) if c.moved_from else None,
    }


def _child_dict(c: Change, child: ChildChange) -> dict[str, Any]:
    """A sub-resource action; its `after` (the raw desired item, which the applier sends) is
    hidden when the children field holds a value from ${env:}/${file:}."""
    data = child.model_dump(mode="json")
    spec = KINDS[c.address.kind].children if c.address.kind in KINDS else None
    hidden = set().union(*(r.sensitive for r in (c.desired, c.live) if r is not None))
    if data.get("after") is not None and (spec is None or spec.field in hidden):
        data["after"] = REDACTED
    return data


def plan_to_dict(plan: Plan, *, tool_version: str | None = None, key: FingerprintKey | None = None) -> dict[str, Any]:
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
    if plan.inputs is not None:
        body["inputs"] = plan.inputs.model_dump(mode="json")
    return body | {"checksum": checksum(body, key)}


def plan_to_json(plan: Plan, *, tool_version: str | None = None, key: FingerprintKey | None = None) -> str:
    """Saved-plan text: indented, key-sorted JSON, newline-terminated, byte-stable."""
    return saved_text(plan_to_dict(plan, tool_version=tool_version, key=key))


def saved_text(data: dict[str, Any]) -> str:
    """`plan_to_dict`'s data as the saved-plan file's bytes (for a caller that needs both)."""
    return jsonout.dumps(data, indent=2, sort_keys=True) + "\n"


def change_from_dict(data: dict[str, Any]) -> Change:
    return Change(
        action=Action(data["action"]), address=Address.parse(data["address"]), reason=data["reason"],
        drift=bool(data.get("drift")), id=data.get("id"), protect=bool(data.get("protect")),
        replace_mode=data.get("replace_mode"), fields=tuple(data.get("fields") or ()),
        diffs=tuple(FieldDiff(**d) for d in data.get("diffs") or ()),
        children=tuple(_child_from_dict(ch) for ch in data.get("children") or ()),
        before=data.get("before"), after=data.get("after"),
        depends_on=tuple(Address.parse(a) for a in data.get("depends_on") or ()),
        delete_after=tuple(Address.parse(a) for a in data.get("delete_after") or ()),
        moved_from=Address.parse(data["moved_from"]) if data.get("moved_from") else None,
    )


def _child_from_dict(data: dict[str, Any]) -> ChildChange:
    # A hidden `after` reads back as none: a loaded plan is only compared, never applied.
    return ChildChange(**data | {"after": data.get("after") if isinstance(data.get("after"), dict) else None})


def plan_from_dict(data: Any, key: FingerprintKey | None = None) -> Plan:
    """Validate version and checksum (an HMAC under `key`'s subkey when given), then rebuild
    the Plan (changes without resources)."""
    if not isinstance(data, dict):
        raise PlanError("not a saved plan: expected a JSON object")
    version = data.get("format_version")
    if data.get("tool") != TOOL or not isinstance(version, int):
        raise PlanError("not a metorial-apply saved plan (no tool/format_version)")
    if version != FORMAT_VERSION:
        raise PlanError(
            f"saved plan format {version} is not supported (this version reads format {FORMAT_VERSION}); plan again"
        )
    check_checksum(data.get("checksum"), {k: v for k, v in data.items() if k != "checksum"}, key)
    try:
        return Plan(
            format_version=version, stack=data["stack"], config_path=data.get("config_path"),
            desired_digest=data.get("desired_digest") or "",
            changes=tuple(change_from_dict(c) for c in data["changes"]),
            live_fingerprints=dict(data.get("live_fingerprints") or {}),
            inputs=PlanInputs.model_validate(data["inputs"]) if data.get("inputs") is not None else None,
        )
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise PlanError(f"saved plan is malformed ({type(exc).__name__}); plan again") from None


def load_saved_plan(text: str, key: FingerprintKey | None = None) -> Plan:
    """Parse saved-plan text; any corruption is a PlanError with a clear message."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PlanError(f"saved plan is not valid JSON (line {getattr(exc, 'lineno', '?')}); plan again") from None
    except RecursionError:  # nesting no plan of ours has: a forged file
        raise PlanError("saved plan nests too deeply to be one metorial-apply wrote; plan again") from None
    try:
        return plan_from_dict(data, key)
    except RecursionError:
        raise PlanError("saved plan nests too deeply to be one metorial-apply wrote; plan again") from None


def check_stale(plan: Plan, live: State) -> None:
    """Raise StalePlanError naming every resource (and api key) whose live object changed,
    appeared or vanished."""
    if live.stack != plan.stack:
        raise _other_stack(plan.stack, live.stack)
    now, then = live_fingerprints(live), plan.live_fingerprints
    moved = [_moved(a, then[a], now[a]) for a in sorted(now.keys() & then.keys()) if now[a] != then[a]]
    moved += [_moved(a, None, now[a]) for a in sorted(now.keys() - then.keys())]
    moved += [_moved(a, then[a], None) for a in sorted(then.keys() - now.keys())]
    if moved:
        raise StalePlanError(moved, "the saved plan is stale; live state changed since it was made: "
                             + ", ".join(moved) + ". Run plan again.")


def _moved(address: str, then: str | None, now: str | None) -> str:
    """One moved address for a stale plan's refusal; an api key says which generation moved and how."""
    if address.startswith(KEY_ADDRESS_KIND + "."):
        return key_moved(address, then, now)
    return f"{address} ({'appeared' if then is None else 'vanished' if now is None else 'changed'})"


def _other_stack(planned: str, configured: str) -> StalePlanError:
    return StalePlanError([], f"the saved plan is for stack {planned!r}, but the configuration is for stack "
                              f"{configured!r} (apply takes the stack from the configuration or --stack, never from "
                              "the plan file)")


def _desired_material(desired: State) -> bytes:
    # `ignore:` is part of what was reviewed; added only where set, so other digests stay as they were.
    rows = [[str(r.address), r.spec, sorted(r.sensitive), r.protect,
             r.secret.canonical().decode() if r.secret is not None else None] + ([sorted(r.ignore)] if r.ignore else [])
            for r in desired]
    # imports/moved/removed join the material only when present, so digests of configs without
    # them stay what they were.
    extra = [desired.directives.rows()] if desired.directives else []
    return hashlib.sha256(canonical_json([desired.stack, rows, *extra]).encode()).digest()


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
    if plan.stack != desired.stack:
        raise _other_stack(plan.stack, desired.stack)
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


def saved_targets(saved: Plan, desired: State, live: State) -> tuple[Address, ...]:
    """What to rebuild a saved plan with: nothing (the whole stack) when it covers every
    address, else its own addresses (a `--target` plan), so the rebuilt plan can match it."""
    # api keys are no resources of either State: without them a plan whose keys are all kept
    # would be rebuilt as a --target plan that leaves those keys out, and never match.
    keys = {k.address for k in desired.api_keys} | {Address.parse(a) for a in key_fingerprints(live)}
    everything = {r.address for r in desired} | {r.address for r in live} | keys
    mine = {c.address for c in saved.changes}
    return () if mine == everything else tuple(sorted(mine & everything, key=str))


INTENT = ("action", "address", "id", "protect", "replace_mode", "fields", "diffs", "depends_on", "delete_after",
          "moved_from")
CHILD_INTENT = ("action", "key", "id", "fields", "after")  # after: the item a reviewer read


def _intent(c: Change) -> dict[str, Any]:
    data = change_to_dict(c)
    out = {k: data[k] for k in INTENT}
    out["children"] = [{k: ch[k] for k in CHILD_INTENT} for ch in data["children"]]
    return json.loads(canonical_json(out))  # tuples and lists alike, as in the file


def same_plan(saved: Plan, fresh: Plan) -> None:
    """Raise PlanError naming the first difference between a saved plan and the plan built
    again now (action, address, id, fields, protect, order, …); ids come from the fresh one."""
    if saved.stack != fresh.stack:
        raise PlanError(f"the saved plan is for stack {saved.stack!r}, not {fresh.stack!r}")
    for i, (then, now) in enumerate(zip(saved.changes, fresh.changes, strict=False), start=1):
        a, b = _intent(then), _intent(now)
        if a != b:
            what = next(k for k in (*INTENT, "children") if a[k] != b[k])
            where = str(now.address) if what == "address" else str(then.address)
            raise PlanError(f"the saved plan does not match the plan made now from the configuration and live "
                            f"state: change {i} ({where}) differs in {what!r}; refusing to apply it. Plan again")
    if len(saved.changes) != len(fresh.changes):
        n = min(len(saved.changes), len(fresh.changes))
        which = "the saved plan" if len(saved.changes) > n else "the plan made now"
        extra = (saved if len(saved.changes) > n else fresh).changes[n]
        raise PlanError(f"the saved plan does not match the plan made now: change {n + 1} ({extra.address}) is only "
                        f"in {which}; refusing to apply it. Plan again")
