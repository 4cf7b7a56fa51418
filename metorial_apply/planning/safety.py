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

from metorial_apply.core.errors import SafetyError
from metorial_apply.core.model import Address
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


def _refuse_protected(protected: list[Change]) -> None:
    what = ", ".join(f"{c.address} ({c.action.value}: {c.reason})" for c in protected)
    deletes_only = all(c.action is Action.DELETE for c in protected)
    raise SafetyError(
        f"refusing to {'delete or replace' if len(protected) > 1 else protected[0].action.value} "
        f"protected resource{'s' if len(protected) > 1 else ''}: {what}. "
        f"To allow it: {UNPROTECT_LIVE if deletes_only else UNPROTECT_IN_CONFIG}.")


def check_protected(plan: Plan) -> None:
    protected = [c for c in plan.changes if c.destructive and c.protect]
    if protected:
        _refuse_protected(protected)


def check_safety(plan: Plan, *, ci: bool, allow_delete: bool, force: bool, allow_empty: bool,
                 desired_count: int, live_count: int) -> None:
    """Raise SafetyError (with the overriding flag, if any) when a rule refuses the plan."""
    check_protected(plan)
    destructive = [c for c in plan.changes if c.destructive]
    if not destructive:
        return
    deletes = [c for c in destructive if c.action is Action.DELETE]
    if desired_count == 0 and live_count > 0 and deletes and not allow_empty:
        raise SafetyError(
            f"the configuration declares no resources, so this plan would delete all {live_count} in stack "
            f"{plan.stack!r}. If that is intended, pass --allow-empty (or use destroy).", flag="--allow-empty")
    share = len(destructive) / live_count if live_count else 0.0
    if live_count >= MASS_MIN_STACK and share > MASS_SHARE and not force:
        raise SafetyError(
            f"this plan would delete or replace {len(destructive)} of {live_count} resources ({share:.0%}) in "
            f"stack {plan.stack!r}, more than {MASS_SHARE:.0%}: {_names(destructive)}. "
            "Check the plan; pass --force if it is intended.", flag="--force")
    if ci and not allow_delete:
        raise SafetyError(
            f"this plan deletes or replaces {len(destructive)} resource{'s' if len(destructive) != 1 else ''} "
            f"({_names(destructive)}); in CI that needs --allow-delete.", flag="--allow-delete")


def check_destroy(plan: Plan, protected: frozenset[Address]) -> None:
    """Refuse to destroy what the config marks `protect: true`, or what was applied with it
    (its live stamp says so), so `destroy --stack NAME` without a config is guarded too."""
    hit = [str(c.address) for c in plan.changes
           if c.action is Action.DELETE and (c.address in protected or c.protect)]
    if hit:
        raise SafetyError(f"refusing to destroy protected resources: {', '.join(hit)} (protect: true); "
                          "set `protect: false` on them and apply first, or destroy the rest with apply", flag=None)
