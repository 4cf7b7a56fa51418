"""The stack lock in the CLI: `--lock-timeout`, the lock that apply and destroy hold around
their session (lock → read → plan or check → apply → release), SIGTERM while it is held, and
stopping the apply if the lock is lost."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import click

from metorial_apply.api.client import MetorialClient
from metorial_apply.api.defaults import LOCAL
from metorial_apply.apply.lock import StackLock, hold_stack_lock
from metorial_apply.cli.output import Output
from metorial_apply.cli.session import Lock
from metorial_apply.core.lock import DEFAULT_SETTLE_S, DEFAULT_SKEW_S, DEFAULT_TTL_S, LockSettings

SIGTERM_EXIT = 143


def lock_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--lock-timeout and --lock-skew, and the hidden knobs tests (and unusual APIs) need."""
    f = click.option("--lock-settle", type=click.FloatRange(0, 60), default=None, hidden=True,
                     envvar="METORIAL_APPLY_LOCK_SETTLE",
                     help=f"Seconds between writing the lock record and reading (default {DEFAULT_SETTLE_S:g}; "
                          "0 with --api-url local).")(f)
    f = click.option("--lock-ttl", type=click.FloatRange(1, 86_400), default=DEFAULT_TTL_S, hidden=True,
                     envvar="METORIAL_APPLY_LOCK_TTL", help="Seconds a lock lives without renewal.")(f)
    f = click.option("--lock-skew", type=click.FloatRange(0, 3600), default=None, metavar="SECONDS",
                     envvar="METORIAL_APPLY_LOCK_SKEW",
                     help=f"How far apart the API servers' clocks may be (default {DEFAULT_SKEW_S:g}; 0 with "
                          "--api-url local). A run that finds the lock free reads the lock records again this "
                          "long (plus the settle delay) after writing its own, before it proceeds.")(f)
    f = click.option("--lock-timeout", type=click.FloatRange(0, 86_400), default=0.0, metavar="SECONDS",
                     help="Wait this long for another run's lock on the stack (default 0: fail at once).")(f)
    return f


def lock_settings(args: dict[str, Any]) -> LockSettings:
    """The lock settings from the options (removed from args). The in-process emulator answers
    every write before the next read, on one clock, so there is nothing to settle or to skew.
    Unset, settle and skew shrink to fit a short --lock-ttl (tests use one)."""
    settle, skew = args.pop("lock_settle"), args.pop("lock_skew")
    ttl, timeout = args.pop("lock_ttl"), args.pop("lock_timeout")
    local = args["api_url"] == LOCAL
    if settle is None:
        settle = 0.0 if local else min(DEFAULT_SETTLE_S, ttl / 4)
    if skew is None:
        skew = 0.0 if local else max(0.0, min(DEFAULT_SKEW_S, ttl / 4 - settle))
    try:
        return LockSettings(ttl_s=ttl, settle_s=settle, skew_s=skew, timeout_s=timeout)
    except ValueError:
        if settle > ttl / 4:
            raise click.BadParameter("must be at most a quarter of --lock-ttl", param_hint="--lock-settle") from None
        raise click.BadParameter("plus the settle delay must be at most a quarter of --lock-ttl",
                                 param_hint="--lock-skew") from None


def stack_lock(out: Output, settings: LockSettings, run: str | None = None) -> Lock:
    """What session() takes the lock with. SIGTERM while the lock is held cancels the command,
    so the lock is released and the exit code is 143 (the apply's own handler takes over while
    changes run)."""

    @asynccontextmanager
    async def hold(client: MetorialClient, stack: str) -> AsyncIterator[StackLock]:
        loop, task, terminated = asyncio.get_running_loop(), asyncio.current_task(), []

        def on_term() -> None:
            terminated.append(True)
            if task is not None:
                task.cancel()

        handled = _add_handler(loop, signal.SIGTERM, on_term)
        try:
            async with hold_stack_lock(client, stack, settings, run=run,
                                       on_note=lambda text: out.echo(f"Lock: {text}", err=True)) as held:
                yield held
        except asyncio.CancelledError:
            if not terminated:
                raise
            if task is not None:
                task.uncancel()
            out.echo("SIGTERM: stopped; the stack lock was released.", err=True)
            raise click.exceptions.Exit(SIGTERM_EXIT) from None
        finally:
            if handled:
                loop.remove_signal_handler(signal.SIGTERM)

    return hold


def _add_handler(loop: asyncio.AbstractEventLoop, sig: signal.Signals, handler: Callable[[], None]) -> bool:
    try:
        loop.add_signal_handler(sig, handler)
        return True
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        return False


def watch_lock(held: StackLock | None, stop: Callable[[str], None],
               note: Callable[[str], None]) -> asyncio.Task[None] | None:
    """While changes run: if the lock is lost (broken by hand, or not renewable), stop scheduling
    as Ctrl-C does, naming why. The caller cancels the returned task when the changes end."""
    if held is None:
        return None

    async def watch() -> None:
        await held.lost.wait()
        note(f"Lock lost: {held.reason}")
        stop("lock lost")

    return asyncio.create_task(watch())
