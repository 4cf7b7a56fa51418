"""`metorial-apply stacks`: the workspace's stacks (one per environment), or those changed since
a git revision; `--json` is shaped for a CI matrix (`strategy.matrix: ${{ fromJSON(...) }}`)."""

from __future__ import annotations

from pathlib import Path

import click

from metorial_apply.cli.output import Output
from metorial_apply.cli.workspace import Found, Selection, find_workspace, select, selection_options
from metorial_apply.config.workspace import WORKSPACE_FILE, Unit
from metorial_apply.core import jsonout
from metorial_apply.core.inert import inert


def unit_row(found: Found, unit: Unit) -> dict[str, object]:
    """One matrix entry: everything a CI job needs to plan or apply the unit."""
    return {
        "name": unit.name, "entry": unit.entry, "environment": unit.environment or "", "file": unit.file,
        "workspace": found.workspace.name, "path": unit.path, "stack": unit.stack, "var_files": list(unit.var_files),
        "api_url": unit.api_url or "", "api_url_env": unit.api_url_env or "", "api_key_env": unit.api_key_env or "",
    }


def _selection(names: tuple[str, ...], every: bool, since: str | None, workspace: Path | None) -> Selection:
    if not names and not since:
        every = True  # `stacks` alone lists them all
    chosen = select(names, every, since, workspace)
    if chosen is None:
        found = find_workspace(workspace)
        if found is None:
            raise click.UsageError(f"no {WORKSPACE_FILE} here or in a parent directory (or give --workspace FILE)")
        return Selection(found, found.workspace.select(names), combined=len(names) > 1)
    return chosen


@click.command("stacks")
@click.argument("names", nargs=-1)
@selection_options
@click.option("--json", "as_json", is_flag=True, help='Print {"include": [...]} for a CI matrix.')
@click.pass_obj
def command(out: Output, names: tuple[str, ...], every: bool, changed_since: str | None,
            workspace_file: Path | None, as_json: bool) -> None:
    """List the workspace's stacks, one per environment (NAMES, --all or --changed-since REF)."""
    chosen = _selection(names, every, changed_since, workspace_file)
    rows = [unit_row(chosen.found, u) for u in chosen.units]
    if as_json:
        # One line: it goes into $GITHUB_OUTPUT as `matrix=…`.
        click.echo(jsonout.dumps({"include": rows}, sort_keys=True, separators=(",", ":")))
        return
    if not rows:
        out.info("No stacks changed." if changed_since else "No stacks.")
        return
    width = max(len(str(r["name"])) for r in rows)
    for unit in chosen.units:
        vars_text = ", ".join(unit.var_files) or "no var files"
        api = unit.url_source()
        click.echo(inert(f"{unit.name:<{width}}  stack {unit.stack}  {unit.path}  ({vars_text}; API {api})"))


__all__ = ["command", "unit_row"]
