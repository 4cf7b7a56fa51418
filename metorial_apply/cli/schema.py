"""`metorial-apply schema`: print (or write, or check) the JSON Schema of the config files."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click

from metorial_apply.cli.output import Output
from metorial_apply.config.schema import render_schema
from metorial_apply.config.workspace import workspace_schema


def render_workspace_schema() -> str:
    return json.dumps(workspace_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _is_current(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") == text
    except OSError:
        return False


def _write(path: Path, text: str) -> None:
    # Atomic: an interrupted write never leaves a half schema behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


@click.command("schema")
@click.option("--write", "write_to", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the schema to this file instead of printing it.")
@click.option("--check", "check", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Exit 1 when this file differs from the generated schema (for CI).")
@click.option("--workspace", "workspace", is_flag=True,
              help="The schema of the workspace file (metorial-apply.yaml) instead.")
@click.pass_obj
def command(out: Output, write_to: Path | None, check: Path | None, workspace: bool) -> None:
    """Print the JSON Schema of metorial-apply YAML files (for editors and CI).

    Point an editor at it with `# yaml-language-server: $schema=<path>/metorial-apply.schema.json`.
    """
    text = render_workspace_schema() if workspace else render_schema()
    if check is not None:
        if not _is_current(check, text):
            flag = " --workspace" if workspace else ""
            raise click.ClickException(f"{check} is out of date; run: metorial-apply schema{flag} --write {check}")
        out.info(f"{check} is up to date.")
        return
    if write_to is not None:
        _write(write_to, text)
        out.info(f"Wrote {write_to}.")
        return
    click.echo(text, nl=False)
