"""`plan` over workspace stacks (names, --all, --changed-since): each unit planned in turn with
its own path, var files, stack and API; one combined report. A unit that fails is reported in
its place and the others still run; the exit code is 1 if any failed (planning stops for
nothing but Ctrl-C)."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import click

from metorial_apply.cli.output import Output, error_lines
from metorial_apply.cli.planfile import given_flags, inputs_for
from metorial_apply.cli.planrun import (
    STDOUT,
    Phases,
    Planned,
    context_for,
    exit_code,
    make_plan,
    stats_lines,
    write_atomic,
)
from metorial_apply.cli.session import run_async
from metorial_apply.cli.workspace import Selection, unit_args
from metorial_apply.config.workspace import Unit
from metorial_apply.core.inert import inert
from metorial_apply.planning.saved import plan_to_dict, saved_text
from metorial_apply.render.combined import (
    StackReport,
    combined_exit,
    combined_json,
    combined_markdown,
    combined_text,
    single_markdown,
)
from metorial_apply.render.json import render_json
from metorial_apply.render.view import RenderContext


def plan_unit(chosen: Selection, unit: Unit, args: dict[str, Any], out: Output,
              plans: dict[str, Any]) -> StackReport:
    """Plan one unit; its error (any, but Ctrl-C) becomes its report."""
    try:
        path, uargs = unit_args(chosen.found, unit, args)
        uargs["out"] = args["out_dir"] / f"{unit.file}.json" if args["out_dir"] else args["out"]
        phases = Phases()
        run = run_async(make_plan(path, uargs, phases, out))
        if uargs["out"]:
            run.plan = run.plan.model_copy(update={"inputs": inputs_for(run.plan, uargs["out"], path, uargs)})
        plans[unit.name] = plan_to_dict(run.plan, key=uargs.get("fingerprint_key"))  # serialized once
        if uargs["out"]:
            write_atomic(uargs["out"], saved_text(plans[unit.name]))
    except click.ClickException as exc:
        return StackReport(unit.name, unit.stack, 1, error=(f"Error: {exc.format_message()}",))
    except Exception as exc:  # ours or a bug: one stack's failure must not hide the others' plans
        return StackReport(unit.name, unit.stack, 1, error=tuple(error_lines(exc)))
    key = uargs.get("fingerprint_key")
    for note in run.read.notes():
        out.echo(f"Warning: {unit.name}: {inert(note)}", err=True)
    for line in stats_lines(run, phases) if args["show_stats"] else ():
        out.echo(f"{unit.name}: {line}", err=True)
    context = unit_context(run, uargs, unit, plans[unit.name]["checksum"], args)
    if args["as_json"]:
        plans[unit.name] = json.loads(render_json(run.plan, context, key=key))
    return StackReport(unit.name, unit.stack, exit_code(run.plan), plan=run.plan, context=context,
                       checksum=context.plan_checksum)


def unit_context(run: Planned, uargs: dict[str, Any], unit: Unit, checksum: str, args: dict[str, Any]) -> RenderContext:
    """A unit's render context: "Apply with:" names the saved plan (with its --stack) or the unit."""
    context = context_for(run, uargs)
    if not uargs["out"]:  # `apply NAME` brings the unit's stack and var files itself
        flags = given_flags({**uargs, "stack": None, "var_files": args["var_files"]})
        context = dataclasses.replace(context, apply_flags=flags, config_path=unit.name)
    return dataclasses.replace(context, plan_checksum=checksum, full_plan_hint=job_log() or context.full_plan_hint)


def plan_units(chosen: Selection, args: dict[str, Any], out: Output, detailed: bool) -> int:
    """Plan every chosen unit and print one report; returns the exit code."""
    plans: dict[str, Any] = {}
    reports = []
    for unit in chosen.units:
        if len(chosen.units) > 1 and not out.quiet:
            click.echo(f"Planning {unit.name} …", err=True)
        reports.append(plan_unit(chosen, unit, args, out, plans))
    name = chosen.found.workspace.name
    markdown = (combined_markdown(name, reports) if chosen.combined or len(reports) != 1
                else single_markdown(reports[0]))
    if args["markdown"] and args["markdown"] != STDOUT:
        write_atomic(args["markdown"], markdown)
    if args["markdown"] == STDOUT:
        text = markdown
    elif args["as_json"]:
        text = combined_json(name, reports, plans)
    else:
        text = combined_text(reports, color=out.color) if reports else "No stacks to plan.\n"
    click.echo(text, nl=False, color=out.color)
    if failed := [r.name for r in reports if r.plan is None]:
        click.echo(f"Error: {len(failed)} of {len(reports)} stacks failed to plan: {', '.join(failed)}", err=True)
    return combined_exit(reports, detailed)


def job_log() -> str | None:
    """The CI job's log, where a comment too long to hold every detail sends its reader."""
    github = [os.environ.get(v, "") for v in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    if all(github):
        return f"the job log ({github[0]}/{github[1]}/actions/runs/{github[2]})"
    return f"the job log ({os.environ['CI_JOB_URL']})" if os.environ.get("CI_JOB_URL") else None
