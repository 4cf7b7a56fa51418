"""`metorial-apply plan [PATH]`: load → catalog → resolve → live read → build_plan → render.

Text goes to stdout (or JSON with --json); --stats, warnings and errors go to stderr, so
stdout stays machine-readable. Files (--out, --markdown) are written atomically.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

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
from metorial_apply.cli.planfile import inputs_for
from metorial_apply.cli.planrun import (
    EXIT_OK,
    STDOUT,
    Phases,
    Planned,
    context_for,
    exit_code,
    make_plan,
    stats_lines,
    write_atomic,
)
from metorial_apply.cli.plans import plan_units
from metorial_apply.cli.session import run_async
from metorial_apply.cli.workspace import config_path, select, selection_options
from metorial_apply.core.fingerprint import is_scrypt, key_hint
from metorial_apply.core.inert import inert
from metorial_apply.core.kinds import KEY_BACKEND, KINDS
from metorial_apply.core.model import Address
from metorial_apply.planning.saved import plan_to_json
from metorial_apply.render import render_json, render_markdown, render_text


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
@click.argument("where", nargs=-1, metavar="[PATH | STACK...]")
@selection_options
@config_options
@api_options
@network_options
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan as JSON for `apply`.")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With workspace stacks: save each stack's plan as DIR/<stack>.json (support.staging.json).")
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
@rate_limit_option
@click.pass_context
def command(ctx: click.Context, where: tuple[str, ...], detailed_exitcode: bool, **args: Any) -> None:
    """Show what apply would change: desired (YAML at PATH) against live (API).

    In a workspace (metorial-apply.yaml), STACK names (support/staging, or support for all its
    environments), --all or --changed-since REF plan several stacks into one report."""
    out: Output = ctx.obj or Output()
    chosen = select(where, args.pop("every"), args.pop("changed_since"), args.pop("workspace_file"))
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
    if chosen is not None:
        if args["out"] and len(chosen.units) != 1:
            raise click.UsageError("--out saves one stack's plan: use --out-dir for several")
        ctx.exit(plan_units(chosen, args, out, detailed_exitcode))
    if args["out_dir"]:
        raise click.UsageError("--out-dir is for workspace stacks (names, --all, --changed-since); use --out")
    path = config_path(where)
    phases = Phases()
    run = run_async(make_plan(path, args, phases, out))
    if args["out"]:
        run.plan = run.plan.model_copy(update={"inputs": inputs_for(run.plan, args["out"], path, args)})
    emit(out, run, args, phases)
    ctx.exit(exit_code(run.plan) if detailed_exitcode else EXIT_OK)


__all__ = ["command", "exit_code", "make_plan"]
