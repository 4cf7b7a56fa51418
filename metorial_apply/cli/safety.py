"""The CLI side of the safety gates before apply and destroy make a call: which flags and
terminal the rules in metorial_apply.planning.safety see, and the confirmation prompt.

Refusals raise SafetyError naming the flag that overrides them; nothing has been sent by then.
"""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass
from typing import Any

import click

from metorial_apply.cli.output import Output
from metorial_apply.core.errors import SafetyError
from metorial_apply.core.state import State
from metorial_apply.planning.plan import Action, Plan
from metorial_apply.planning.safety import Blocked, blocked


@dataclass(frozen=True)
class Approval:
    auto: bool
    verb: str  # "apply" | "destroy"
    plan: Plan


def blocked_by(plan: Plan, desired: State, args: dict[str, Any], out: Output) -> tuple[Blocked, ...]:
    """What apply with this run's flags refuses the plan by; `plan` shows it, `apply` raises the
    first. "CI mode" means nobody at a terminal (not a TTY, or CI set)."""
    live_count = sum(1 for c in plan.changes if c.live is not None)
    return blocked(plan, ci=not out.interactive, allow_delete=bool(args.get("allow_delete")),
                   force=bool(args.get("force")), allow_empty=bool(args.get("allow_empty")),
                   desired_count=len(desired), live_count=live_count)


def refuse_unsafe(plan: Plan, desired: State, args: dict[str, Any], out: Output) -> None:
    """apply's safety rules with this run's flags: the first that blocks the plan refuses it."""
    found = blocked_by(plan, desired, args, out)
    if found:
        raise SafetyError(found[0].message, flag=found[0].flag)


async def ask(question: str) -> str:
    """A prompt answered at the terminal, read in a thread of its own while the event loop runs
    on: the stack lock keeps being renewed however long the person takes, and Ctrl-C cancels the
    run at once (read on the loop, `input()` swallowed the interrupt until Enter, lock held). The
    thread is a daemon, so an interrupted read never keeps the process alive."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def settle(result: str | None, error: BaseException | None) -> None:
        if answer.done():  # cancelled meanwhile: nobody waits for it
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(result or "")

    def read() -> None:
        try:
            text = click.prompt(question, default="", show_default=False)
        except BaseException as exc:  # Ctrl-D (click.Abort) and the like, handed to the waiting run
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, text, None)

    threading.Thread(target=read, daemon=True, name="prompt").start()
    return await answer


async def confirm(out: Output, approval: Approval) -> bool:
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
    return (await ask('  Only "yes" will be accepted')).strip() == "yes"
