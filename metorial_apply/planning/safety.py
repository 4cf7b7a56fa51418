"""Safety rules a plan must pass before it is applied or destroyed: the only place they are
written. Pure: the CLI (cli/safety.py maps its flags onto them) and plan engineers call them.

apply: checked in this order, the first failure wins: `protect: true` (no flag overrides it;
remove the line first), an empty config that would delete everything (--allow-empty), a mass
delete/replace (--force), deletes or replaces in CI mode (--allow-delete).
destroy: `protect: true`, again with no overriding flag.

Protection is read from the config while a resource is in it, and from its live stamp (where
apply stores the flag) once it is gone, so deleting a line cannot bypass it.
"""

from __future__ import annotations

from typing import Literal

from metorial_apply.core.errors import SafetyError
from metorial_apply.core.model import Address, Frozen
from metorial_apply.planning.plan import Action, Change, Plan

MASS_SHARE = 0.30  # share of the stack a plan may delete or replace without --force
MASS_MIN_STACK = 10  # small stacks are exempt: 1 of 3 is not a mass delete


def _names(changes: list[Change], limit: int = 5) -> str:
    shown = ", ".join(f"{c.action.marker} {c.address}" for c in changes[:limit])
    more = len(changes) - limit
    return shown + (f" and {more} more" if more > 0 else "")


UNPROTECT_IN_CONFIG = "remove `protect: true` from the resource first, then plan again"
UNPROTECT_LIVE = ("it was applied with `protect: true`: put it back in the config with `protect: false`, "
                  "apply, then remove it")


class Blocked(Frozen):
    """One rule an apply with the given flags would refuse the plan by; `unblock` says the flag
    or edit that lets it through (`flag` is that flag, if one does)."""

    rule: Literal["protected", "empty", "mass", "ci-delete"]
    message: str  # the refusal apply gives, word for word
    unblock: str
    flag: str | None = None
    addresses: tuple[str, ...] = ()


def _protected(protected: list[Change]) -> Blocked:
    what = ", ".join(f"{c.address} ({c.action.value}: {c.reason})" for c in protected)
    deletes_only = all(c.action is Action.DELETE for c in protected)
    unblock = UNPROTECT_LIVE if deletes_only else UNPROTECT_IN_CONFIG
    return Blocked(rule="protected", unblock=unblock, addresses=tuple(str(c.address) for c in protected), message=(
        f"refusing to {'delete or replace' if len(protected) > 1 else protected[0].action.value} "
        f"protected resource{'s' if len(protected) > 1 else ''}: {what}. To allow it: {unblock}."))


def check_protected(plan: Plan) -> None:
    protected = [c for c in plan.changes if c.destructive and c.protect]
    if protected:
        raise SafetyError(_protected(protected).message)


def blocked(plan: Plan, *, ci: bool, allow_delete: bool, force: bool, allow_empty: bool,
            desired_count: int, live_count: int) -> tuple[Blocked, ...]:
    """Every rule an apply with these flags would refuse `plan` by, in the order apply checks
    them. THE decision: `check_safety` (apply) raises the first; `plan` shows them all."""
    out = []
    destructive = sorted((c for c in plan.changes if c.destructive), key=lambda c: str(c.address))  # not run order
    protected = [c for c in destructive if c.protect]
    if protected:
        out.append(_protected(protected))
    names = tuple(str(c.address) for c in destructive)
    deletes = [c for c in destructive if c.action is Action.DELETE]
    if desired_count == 0 and live_count > 0 and deletes and not allow_empty:
        out.append(Blocked(rule="empty", flag="--allow-empty", unblock="pass --allow-empty (or use destroy)",
                           addresses=names, message=(
            f"the configuration declares no resources, so this plan would delete all {live_count} in stack "
            f"{plan.stack!r}. If that is intended, pass --allow-empty (or use destroy).")))
    share = len(destructive) / live_count if live_count else 0.0
    if live_count >= MASS_MIN_STACK and share > MASS_SHARE and not force:
        out.append(Blocked(rule="mass", flag="--force", unblock="check the plan; pass --force if it is intended",
                           addresses=names, message=(
            f"this plan would delete or replace {len(destructive)} of {live_count} resources ({share:.0%}) in "
            f"stack {plan.stack!r}, more than {MASS_SHARE:.0%}: {_names(destructive)}. "
            "Check the plan; pass --force if it is intended.")))
    gated = sorted((c for c in plan.changes if c.action.cls.needs_allow_delete), key=lambda c: str(c.address))
    if gated and ci and not allow_delete:
        out.append(Blocked(rule="ci-delete", flag="--allow-delete", unblock="pass --allow-delete",
                           addresses=tuple(str(c.address) for c in gated), message=(
            f"this plan {_verbs(gated)} {len(gated)} resource{'s' if len(gated) != 1 else ''} "
            f"({_names(gated)}); in CI that needs --allow-delete.")))
    return tuple(out)


def _verbs(changes: list[Change]) -> str:
    """"deletes or replaces", and "takes over" when a takeover is among them (it leaves another
    stack without the object, which is why CI needs the same flag)."""
    words = "deletes or replaces"
    if any(c.action is Action.TAKEOVER for c in changes):
        words = "takes over" if all(c.action is Action.TAKEOVER for c in changes) else words + " or takes over"
    return words


def check_safety(plan: Plan, *, ci: bool, allow_delete: bool, force: bool, allow_empty: bool,
                 desired_count: int, live_count: int) -> None:
    """Raise SafetyError (with the overriding flag, if any) for the first rule that refuses the plan."""
    found = blocked(plan, ci=ci, allow_delete=allow_delete, force=force, allow_empty=allow_empty,
                    desired_count=desired_count, live_count=live_count)
    if found:
        raise SafetyError(found[0].message, flag=found[0].flag)


def check_destroy(plan: Plan, protected: frozenset[Address]) -> None:
    """Refuse to destroy what the config marks `protect: true`, or what was applied with it
    (its live stamp says so), so `destroy --stack NAME` without a config is guarded too."""
    hit = [str(c.address) for c in plan.changes
           if c.action is Action.DELETE and (c.address in protected or c.protect)]
    if hit:
        raise SafetyError(f"refusing to destroy protected resources: {', '.join(hit)} (protect: true); "
                          "set `protect: false` on them and apply first, or destroy the rest with apply", flag=None)
