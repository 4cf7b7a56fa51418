"""`metorial-apply plan [PATH]`: load → catalog → resolve → live read → build_plan → render.

Text goes to stdout (or JSON with --json); --stats, warnings and errors go to stderr, so
stdout stays machine-readable. Files (--out, --markdown) are written atomically.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from metorial_apply.api.live import LiveRead
from metorial_apply.cli.options import (
    api_options,
    config_options,
    fingerprint_key,
    gate_options,
    key_options,
    network_options,
    parse_vars,
)
from metorial_apply.cli.output import Output
from metorial_apply.cli.planfile import apply_flags, inputs_for
from metorial_apply.cli.safety import blocked_by
from metorial_apply.cli.session import Session, fresh_plan, load_desired, run_async, session, state_dir_for
from metorial_apply.core.errors import Diagnostic
from metorial_apply.core.fingerprint import is_scrypt, key_hint
from metorial_apply.core.kinds import KEY_BACKEND, KINDS, METORIAL_KINDS, sort_key
from metorial_apply.core.model import Address
from metorial_apply.core.scrub import SECRETS
from metorial_apply.core.state import State
from metorial_apply.planning.action import exit_code as action_exit_code
from metorial_apply.planning.blind import without_secrets
from metorial_apply.planning.plan import Plan
from metorial_apply.planning.safety import Blocked
from metorial_apply.planning.saved import plan_to_dict, plan_to_json
from metorial_apply.render import RenderContext, RenderStats, render_json, render_markdown, render_text
from metorial_apply.render.inert import inert

EXIT_OK, EXIT_CHANGES, EXIT_DESTRUCTIVE = 0, 2, 3


@dataclass
class Phases:
    """Wall time per phase, for --stats."""

    seconds: dict[str, float] = field(default_factory=dict)
    _start: float = field(default_factory=time.perf_counter)

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._start
        self._start = now


@dataclass
class Planned:
    """Everything a plan run produced, for the output step."""

    plan: Plan
    desired: State
    read: LiveRead
    api_url: str
    stats: dict[str, Any]
    list_calls: int
    live_seconds: float
    blocked: tuple[Blocked, ...] = ()  # what an apply with plan's gate flags would refuse


async def make_plan(path: Path, args: dict[str, Any], phases: Phases, out: Output) -> Planned:
    absent: list[Diagnostic] | None = [] if args["no_secrets"] else None
    desired = load_desired(path, args, warnings=absent, key_credentials=False)  # keys then come from the index
    for warning in absent or []:
        out.echo(f"Warning: {warning}", err=True)
    phases.lap("load")
    async with session(desired, state_dir_for(path), args, None, on_phase=phases.lap) as s:
        plan = blind_plan(s, args, path) if args["no_secrets"] else fresh_plan(s, args, path)
        phases.lap("plan")
    return Planned(plan, s.desired, s.read, s.client.base_url, s.client.stats.as_dict(), s.list_calls, s.live_seconds,
                   blocked_by(plan, s.desired, args, out))


def blind_plan(s: Session, args: dict[str, Any], path: Path) -> Plan:
    """`--no-secrets`: the plan with no secret compared, a note on each resource left out."""
    desired, notes = without_secrets(s.desired, s.read.state)
    plan = fresh_plan(replace(s, desired=desired), args, path)
    notes = tuple(sorted((*plan.notes, *notes), key=lambda n: sort_key(n.address)))
    return plan.model_copy(update={"notes": notes, "desired_digest": ""})  # no digest: `apply` refuses it


def write_atomic(target: Path, text: str) -> None:
    """Write via a temporary file in the same directory, then rename: never a partial file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(SECRETS.scrub(text))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def exit_code(plan: Plan) -> int:
    """--detailed-exitcode: the highest class among the plan's actions (planning/action.py)."""
    return action_exit_code(c.action for c in plan.changes)


def context_for(run: Planned, args: dict[str, Any]) -> RenderContext:
    out_path = args["out"]
    saved = plan_to_dict(run.plan, key=args.get("fingerprint_key")) if out_path else None
    return RenderContext(
        api_url=run.api_url, config_path=run.plan.config_path,
        stats=RenderStats(kinds=len(METORIAL_KINDS), list_calls=run.list_calls, seconds=run.live_seconds,
                          api_calls=run.stats.get("calls")),
        plan_checksum=saved["checksum"] if saved else None,
        saved_plan=str(out_path) if out_path else None,
        full_plan_hint=str(out_path) if out_path else None, apply_flags=apply_flags(run.plan.inputs, args),
        blocked=run.blocked, no_secrets=bool(args.get("no_secrets")),
    )


def stats_lines(run: Planned, phases: Phases) -> list[str]:
    s = run.stats
    by_kind = ", ".join(f"{k} {v}" for k, v in s.get("by_kind", {}).items()) or "none"
    times = ", ".join(f"{k} {v:.3f} s" for k, v in phases.seconds.items())
    return [
        f"API calls: {s.get('calls', 0)} ({by_kind}); pages {s.get('pages', 0)}; retries {s.get('retries', 0)}; "
        f"429s {s.get('rate_limited', 0)}",
        f"Live read: {run.list_calls} list calls for {len(METORIAL_KINDS)} kinds, {run.read.objects} objects, "
        f"{len(run.read.state)} in stack {run.plan.stack}",
        f"Time: {times}; total {sum(phases.seconds.values()):.3f} s",
    ]


STDOUT = Path("-")


def key_suggestion(run: Planned, args: dict[str, Any]) -> str | None:
    """Suggest keyed fingerprints when this plan paid for many scrypt comparisons without a key."""
    if args["fingerprint_key"] is not None:
        return None
    live = run.read.state.by_address()
    return key_hint(sum(1 for r in run.desired if r.secret is not None and r.address in live
                        and is_scrypt(live[r.address].stamp)))


def emit(out: Output, run: Planned, args: dict[str, Any], phases: Phases) -> None:
    ctx = context_for(run, args)
    if args["out"]:
        write_atomic(args["out"], plan_to_json(run.plan, key=args.get("fingerprint_key")))
    if args["markdown"] and args["markdown"] != STDOUT:
        write_atomic(args["markdown"], render_markdown(run.plan, ctx))
    for note in run.read.notes():
        out.echo(f"Warning: {inert(note)}", err=True)
    if not out.quiet and (hint := key_suggestion(run, args)):
        out.echo(hint, err=True)
    key = args.get("fingerprint_key")
    if args["markdown"] == STDOUT:  # the comment is what stdout is for: the text plan stays off it
        text = render_markdown(run.plan, ctx)
    else:
        text = render_json(run.plan, ctx, key=key) if args["as_json"] else render_text(run.plan, ctx, color=out.color)
    phases.lap("render")
    if args["as_json"] or not out.quiet or run.plan.actionable():
        click.echo(text, nl=False, color=out.color)
    if args["show_stats"]:
        for line in stats_lines(run, phases):
            out.echo(line, err=True)


def parse_targets(values: tuple[str, ...], option: str = "--target") -> tuple[Address, ...]:
    """Addresses given to `option` (--target, --replace); a malformed one is a usage error."""
    out = []
    for value in values:
        try:
            out.append(Address.parse(value))
        except ValueError:
            raise click.BadParameter(f"{value!r} is not an address (want kind.name, e.g. config.github-prod)",
                                     param_hint=option) from None
        if out[-1].kind not in KINDS:
            raise click.BadParameter(f"unknown kind {out[-1].kind!r}; kinds: {', '.join(KINDS)}", param_hint=option)
        if option == "--replace" and KINDS[out[-1].kind].api == KEY_BACKEND:
            raise click.BadParameter(f"{value!r}: an api key gets a new generation with --rotate {value}, not "
                                     "--replace", param_hint=option)
    return tuple(out)


REPLACE_HELP = ("Re-create this address (create new, repoint dependents, delete old) though nothing changed "
                "(repeatable).")


@click.command("plan")
@click.argument("path", type=click.Path(exists=True, path_type=Path), default=".")
@config_options
@api_options
@network_options
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan as JSON for `apply`.")
@click.option("--markdown", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Write a pull-request comment to this file (`-`: print it instead of the text plan).")
@gate_options
@click.option("--no-secrets", is_flag=True,
              help="Plan without secret values: secrets are not compared (review only; no --out).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON instead of text.")
@key_options
@click.option("--target", "targets", multiple=True, metavar="ADDRESS",
              help="Plan only this address and what it depends on (repeatable).")
@click.option("--replace", "replace", multiple=True, metavar="ADDRESS", help=REPLACE_HELP)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 no changes, 2 changes, 3 deletes or replaces.")
@click.option("--stats", "show_stats", is_flag=True, help="API calls by kind, pages and time per phase (stderr).")
@click.option("--parallelism", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Concurrent API requests and fingerprint threads.")
@click.pass_context
def command(ctx: click.Context, path: Path, detailed_exitcode: bool, **args: Any) -> None:
    """Show what apply would change: desired (YAML at PATH) against live (API)."""
    out: Output = ctx.obj or Output()
    if out.verbose >= 2:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if args["markdown"] == STDOUT and args["as_json"]:
        raise click.UsageError("--markdown - and --json both print to stdout: choose one")
    if args["no_secrets"] and args["out"]:
        raise click.UsageError("--no-secrets plans cannot be applied, so they cannot be saved: drop --out (or "
                               "--no-secrets)")
    args["variables"] = parse_vars(args["variables"])
    args["targets"] = parse_targets(args["targets"])
    args["replace"] = parse_targets(args["replace"], "--replace")
    args["fingerprint_key"] = fingerprint_key()
    phases = Phases()
    run = run_async(make_plan(path, args, phases, out))
    if args["out"]:
        run.plan = run.plan.model_copy(update={"inputs": inputs_for(run.plan, args["out"], path, args)})
    emit(out, run, args, phases)
    ctx.exit(exit_code(run.plan) if detailed_exitcode else EXIT_OK)


__all__ = ["command", "exit_code", "make_plan"]
