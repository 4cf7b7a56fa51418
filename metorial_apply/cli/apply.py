"""`metorial-apply apply [PATH | plan.json]`: plan (or load a saved plan), show it, confirm, apply.

A saved plan is untrusted input: the configuration is reloaded (its digest must match), live
state is read again (no resource it read may have moved), the plan is built again, and that
plan is applied only if it equals the saved one change for change; ids, actions and flags all
come from the new plan, never from the file.
Ctrl-C or SIGTERM stops scheduling, lets in-flight calls finish, reports, and exits 130/143.
The stack lock (cli/lock.py) is held from before the live read to the end; losing it stops
scheduling the same way.
"""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from metorial_apply.apply.ids import KeyRing
from metorial_apply.apply.journal import Journal
from metorial_apply.apply.report import ApplyReport
from metorial_apply.apply.run import apply_plan
from metorial_apply.apply.secrets_out import SecretsOut
from metorial_apply.cli.lock import lock_options, lock_settings, stack_lock, watch_lock
from metorial_apply.cli.options import (
    api_options,
    config_options,
    fingerprint_key,
    gate_options,
    key_options,
    network_options,
    parse_vars,
    rate_limit_option,
)
from metorial_apply.cli.output import Output
from metorial_apply.cli.plan import REPLACE_HELP, parse_targets
from metorial_apply.cli.planfile import read_saved
from metorial_apply.cli.progress import make_progress, summary_lines
from metorial_apply.cli.recording import check_indexed, close_run, open_run, tidy
from metorial_apply.cli.safety import Approval, confirm, refuse_unsafe
from metorial_apply.cli.session import Session, fresh_plan, load_desired, session, state_dir_for
from metorial_apply.cli.workspace import select, unit_args
from metorial_apply.core.inert import inert
from metorial_apply.core.keys import consumed
from metorial_apply.core.kinds import KEY_BACKEND, KINDS, METORIAL_KINDS
from metorial_apply.planning.keys import NEW_GENERATION
from metorial_apply.planning.plan import Plan
from metorial_apply.planning.saved import check_stale, same_plan, saved_targets, verify_desired
from metorial_apply.render import RenderContext, RenderStats, render_text

EXIT_OK, EXIT_ERROR = 0, 1
SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143}


def saved_plan_against(saved: Plan, s: Session, args: dict[str, Any], config_path: Path) -> Plan:
    """The plan built again now, if the saved one is still true: same config, no live object it
    read has moved, and the new plan equal to it change for change. The new plan is what runs."""
    verify_desired(saved, s.desired)
    check_stale(saved, s.read.state)
    fresh = fresh_plan(s, args | {"targets": saved_targets(saved, s.desired, s.read.state)}, config_path)
    same_plan(saved, fresh)
    return fresh


def show_plan(out: Output, plan: Plan, s: Session) -> None:
    ctx = RenderContext(api_url=s.client.base_url, config_path=plan.config_path, next_step=False,
                        stats=RenderStats(kinds=len(METORIAL_KINDS), list_calls=s.list_calls, seconds=s.live_seconds))
    if not out.quiet:
        click.echo(render_text(plan, ctx, color=out.color), nl=False, color=out.color)
    for note in s.read.notes():
        out.echo(f"Warning: {inert(note)}", err=True)


async def run_changes(
    out: Output, plan: Plan, s: Session, args: dict[str, Any], journal: Journal | None
) -> tuple[ApplyReport, str | None]:
    """apply_plan with progress and signal handling; returns the report and the signal that stopped it."""
    width = min(48, max((len(str(c.address)) for c in plan.changes), default=10))
    progress = make_progress(
        len(plan.actionable()), width, interactive=out.interactive, quiet=out.quiet, color=out.color
    )
    cancel, received = asyncio.Event(), []
    loop = asyncio.get_running_loop()

    def on_signal(name: str) -> None:
        received.append(name)
        if not cancel.is_set():
            cancel.set()
            progress.note(f"{name}: stopping — no new changes start; waiting for calls in flight to finish.")
        elif name == "SIGINT":  # a second Ctrl-C: stop waiting
            loop.remove_signal_handler(signal.SIGINT)

    handled = [sig for sig in (signal.SIGINT, signal.SIGTERM) if _handle(loop, sig, on_signal)]
    lock_watch = watch_lock(s.lock, on_signal, progress.note)
    keys = key_ring(plan, s, args.get("secrets_out"))
    try:
        with _heap_frozen(), progress:
            report = await apply_plan(plan, s.client, catalog=s.catalog, parallelism=args["parallelism"],
                                      fail_fast=args["fail_fast"], journal=journal, on_event=progress, cancel=cancel,
                                      fingerprint_key=args.get("fingerprint_key"), keys=keys,
                                      run=s.lock.run if s.lock else None)
    finally:
        if keys.secrets_out is not None:
            keys.secrets_out.close()
        if lock_watch:
            lock_watch.cancel()
        for sig in handled:
            loop.remove_signal_handler(sig)
    return report, (received[0] if received else None)


async def recorded_changes(out: Output, plan: Plan, s: Session, args: dict[str, Any], journal: Journal | None
                           ) -> tuple[ApplyReport, str | None, bool]:
    """run_changes between the run's open entry in the stack index and its merge; the last value
    says whether the index was written."""
    writer = await open_run(s, plan)
    report, stopped_by = await run_changes(out, plan, s, args, journal)
    return report, stopped_by, await close_run(out, s, writer, report)


def key_ring(plan: Plan, s: Session, path: Path | None) -> KeyRing:
    """The key backends' clients for the run; `--secrets-out` is opened only when a key nothing
    consumes is about to be created (then before its create, so its secret has a place)."""
    types = {b.name: b.type for b in s.desired.key_backends}
    unconsumed = frozenset(k.name for k in s.desired.api_keys) - consumed(s.desired)
    building = {c.address.name for c in plan.changes
                if KINDS[c.address.kind].api == KEY_BACKEND and c.action in NEW_GENERATION}
    made = [(k.name, types.get(k.backend, "metlo")) for k in s.desired.api_keys
            if k.name in unconsumed and k.name in building]
    out = SecretsOut.open(path, made) if path and made else None
    return KeyRing(clients=s.keys or {}, types=types, secrets_out=out, unconsumed=unconsumed)


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """Keep what exists before the changes run (plan, catalog, live state, all alive until
    the end) out of the cyclic collector meanwhile: a full collection walking it stalled the
    event loop, and with it every call in flight, for 30-100 ms at a time at 1,000 resources."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _handle(loop: asyncio.AbstractEventLoop, sig: signal.Signals, handler: Callable[[str], None]) -> bool:
    try:
        loop.add_signal_handler(sig, handler, sig.name)
        return True
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        return False


def finish(out: Output, report: ApplyReport, stopped_by: str | None, journal: Journal | None,
           verb: str = "Apply") -> int:
    lines = summary_lines(report, verb)
    for line in lines:
        out.echo(line)
    if journal:
        journal.summary(lines[0])
    if stopped_by:
        return SIGNAL_EXIT.get(stopped_by, EXIT_ERROR)
    return EXIT_OK if report.ok else EXIT_ERROR


async def apply_path(out: Output, path: Path, args: dict[str, Any]) -> int:
    is_saved = path.is_file() and path.suffix == ".json"
    saved, config_path = read_saved(path, args) if is_saved else (None, path)
    desired = load_desired(config_path, args)  # the stack from the config or --stack, never from a file
    journal = Journal.open(args["journal"], stack=desired.stack) if args["journal"] else None
    try:
        lock = stack_lock(out, args["lock"], journal.run if journal else None)
        async with session(desired, state_dir_for(config_path), args, journal.call if journal else None,
                           lock=lock) as s:
            plan = saved_plan_against(saved, s, args, config_path) if saved else fresh_plan(s, args, config_path)
            show_plan(out, plan, s)
            if not plan.actionable():
                if out.quiet:  # otherwise the plan just said so
                    out.echo("No changes. Live state matches the configuration.")
                return EXIT_OK if await tidy(out, s) else EXIT_ERROR
            refuse_unsafe(plan, s.desired, args, out)
            check_indexed(s)
            if not await confirm(out, Approval(auto=args["auto_approve"], verb="apply", plan=plan)):
                out.echo("Apply cancelled; nothing was changed.")
                return EXIT_ERROR
            report, stopped_by, recorded = await recorded_changes(out, plan, s, args, journal)
        code = finish(out, report, stopped_by, journal)
        return code if recorded or code != EXIT_OK else EXIT_ERROR
    finally:
        if journal:
            journal.close()


def common_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options apply and destroy share."""
    for option in reversed([
        click.option("--parallelism", type=click.IntRange(1, 64), default=8, show_default=True,
                     help="Changes (and API requests) in flight at once."),
        click.option("--fail-fast", is_flag=True, help="Start no new change after the first failure."),
        click.option("--journal", type=click.Path(dir_okay=False, path_type=Path),
                     help="Append a JSON-lines record of every API call and change to FILE."),
        click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (pipelines)."),
        rate_limit_option,
        click.option("-q", "--quiet", "quiet_flag", is_flag=True, help="Only failures and the summary."),
    ]):
        f = option(f)
    return lock_options(f)


def prepare(ctx: click.Context, args: dict[str, Any]) -> Output:
    out: Output = ctx.obj or Output()
    if args.pop("quiet_flag", False):
        out = Output(verbose=out.verbose, quiet=True, color=out.color, debug=out.debug, interactive=out.interactive)
    args["variables"] = parse_vars(args["variables"])
    args["fingerprint_key"] = fingerprint_key()  # before any network: a bad key fails fast
    args["lock"] = lock_settings(args)
    return out


def unit_path(where: str, workspace_file: Path | None, args: dict[str, Any]) -> Path:
    """PATH as given, or, for a workspace stack name, its config path (its inputs set in `args`)."""
    chosen = select((where,), False, None, workspace_file) if where != "." or workspace_file else None
    if chosen is None:
        if not Path(where).exists():
            raise click.BadParameter(f"Path {where!r} does not exist (and names no workspace stack).",
                                     param_hint="'[PATH | plan.json | STACK]'")
        return Path(where)
    if len(chosen.units) != 1:
        raise click.UsageError(f"{where!r} is {len(chosen.units)} stacks; apply takes one: "
                               + ", ".join(u.name for u in chosen.units))
    if args["stack"] or args["var_files"]:
        raise click.UsageError("a workspace stack brings its own --stack and var files (metorial-apply.yaml)")
    path, unit_args_ = unit_args(chosen.found, chosen.units[0], args)
    args.update(unit_args_)
    return path


@click.command("apply")
@click.argument("where", default=".", metavar="[PATH | plan.json | STACK]")
@click.option("--workspace", "workspace_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The workspace file, for a STACK name (default: metorial-apply.yaml here or above).")
@config_options
@api_options
@network_options
@common_options
@gate_options
@key_options
@click.option("--target", "targets", multiple=True, metavar="ADDRESS",
              help="Apply only this address and what it depends on (repeatable).")
@click.option("--replace", "replace", multiple=True, metavar="ADDRESS", help=REPLACE_HELP)
@click.pass_context
def command(ctx: click.Context, where: str, workspace_file: Path | None, **args: Any) -> None:
    """Apply the configuration at PATH (or a saved plan.json) to the API.

    In a workspace, STACK (e.g. support/production) applies that stack in that environment: its
    path, var files, stack name, API URL and key come from metorial-apply.yaml."""
    out = prepare(ctx, args)
    path = unit_path(where, workspace_file, args)
    args["targets"] = parse_targets(args["targets"])
    args["replace"] = parse_targets(args["replace"], "--replace")
    ctx.exit(asyncio.run(apply_path(out, path, args)))


__all__ = ["command", "common_options", "finish", "prepare", "recorded_changes", "run_changes", "show_plan"]
