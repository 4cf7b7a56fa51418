"""Safety gates before apply and destroy make a call: refusals (protect, mass delete, empty
config, deletes in CI without --allow-delete) and the confirmation prompt.

Refusals raise SafetyError naming the flag that overrides them; nothing has been sent by then.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import click

from metorial_apply.cli.output import Output
from metorial_apply.errors import SafetyError
from metorial_apply.plan import Action, Plan
from metorial_apply.state import State

MASS_SHARE = 0.30  # share of the stack a plan may delete or replace without --force
MASS_MIN_STACK = 10  # below this size a "share" says little


@dataclass(frozen=True)
class Approval:
    auto: bool
    verb: str  # "apply" | "destroy"
    plan: Plan


def _names(plan: Plan, pick: Any) -> str:
    found = [str(c.address) for c in plan.changes if pick(c)]
    shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
    return shown


def check_protect(plan: Plan, *, ignore_protect: bool = False) -> None:
    """`protect: true` refuses a delete or replace of that resource."""
    def guarded(c: Any) -> bool:
        protected = c.protect or (c.desired is not None and c.desired.protect)
        return bool(protected) and c.action in (Action.DELETE, Action.REPLACE)

    if not ignore_protect and any(guarded(c) for c in plan.changes):
        raise SafetyError(f"refusing to delete or replace protected resources: {_names(plan, guarded)} "
                          "(protect: true); remove `protect: true` from the config first", flag=None)


def check_mass(plan: Plan, live_count: int, *, force: bool) -> None:
    destructive = sum(1 for c in plan.changes if c.destructive)
    if force or live_count < MASS_MIN_STACK or destructive <= MASS_SHARE * live_count:
        return
    raise SafetyError(f"refusing to delete or replace {destructive} of {live_count} resources in stack "
                      f"{plan.stack!r} (more than {int(MASS_SHARE * 100)} %); pass --force if that is intended",
                      flag="--force")


def check_empty(plan: Plan, desired: State, *, allow_empty: bool) -> None:
    deletes = sum(1 for c in plan.changes if c.action is Action.DELETE)
    if len(desired) == 0 and deletes and not allow_empty:
        raise SafetyError(f"the configuration declares no resources, so this would delete all {deletes} in stack "
                          f"{plan.stack!r}; pass --allow-empty (or use destroy) if that is intended", flag="--allow-empty")


def check_ci_deletes(plan: Plan, out: Output, *, allow_delete: bool) -> None:
    """Without a person at a terminal, deletes and replacements need an explicit --allow-delete."""
    if out.interactive or allow_delete or not plan.destructive:
        return
    picked = _names(plan, lambda c: c.destructive)
    raise SafetyError(f"refusing to delete or replace without a terminal (or with CI set): {picked}; "
                      "pass --allow-delete to allow it", flag="--allow-delete")


def refuse_unsafe(plan: Plan, desired: State, args: dict[str, Any], out: Output, *, live_count: int | None = None) -> None:
    """Every refusal rule, most specific first."""
    check_protect(plan, ignore_protect=bool(args.get("ignore_protect")))
    live = live_count if live_count is not None else sum(1 for c in plan.changes if c.live is not None)
    check_empty(plan, desired, allow_empty=bool(args.get("allow_empty")))
    check_mass(plan, live, force=bool(args.get("force")))
    check_ci_deletes(plan, out, allow_delete=bool(args.get("allow_delete")))


def confirm(out: Output, approval: Approval) -> bool:
    """--auto-approve, or a person typing "yes" at a terminal; otherwise refuse clearly."""
    if approval.auto:
        return True
    if not out.interactive:
        why = "CI is set" if os.environ.get("CI") else "stdin/stdout is not a terminal"
        raise SafetyError(f"refusing to {approval.verb} without confirmation ({why}); pass --auto-approve "
                          "to run non-interactively", flag="--auto-approve")
    counts = approval.plan.counts()
    what = ", ".join(f"{n} {a.value}" for a, n in counts.items() if n and a is not Action.NOOP)
    click.echo(f"\nDo you want to {approval.verb} these changes ({what}) in stack {approval.plan.stack!r}?")
    answer = click.prompt('  Only "yes" will be accepted', default="", show_default=False)
    return answer.strip() == "yes"
