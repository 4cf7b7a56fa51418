"""`metorial-apply validate [PATH]`: check the configuration offline, or with `--online` also
against the provider catalog (names, versions, secret values against the JSON Schemas, tool keys
and regexes, and what template providers need). It reads no live state: it assumes deployments
have no default config or auth config, true for every deployment this tool creates."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from metorial_apply.cli.options import api_options, config_options, network_options, parse_vars
from metorial_apply.cli.output import Output, error_lines
from metorial_apply.cli.workspace import config_path, select, selection_options, unit_args
from metorial_apply.config.files import config_files
from metorial_apply.config.load import load_config
from metorial_apply.config.redaction import short_secrets
from metorial_apply.core.errors import Diagnostic, MetorialApplyError
from metorial_apply.core.state import State


def _files_text(path: Path) -> str:
    files = config_files(path).displays()
    return files[0] if len(files) == 1 else f"{len(files)} files in {path}"


async def _online(desired: State, path: Path, api_url: str, api_key: str | None, timeout: float,
                  max_wait: float) -> State:
    # Imported here: offline validation must work without touching the client stack.
    from metorial_apply.api.catalog import fetch_catalog
    from metorial_apply.api.client import open_client
    from metorial_apply.cli.session import detail_for, print_wait, state_dir_for
    from metorial_apply.config.resolve import resolve_names

    async with open_client(api_url, api_key, state_dir=state_dir_for(path), timeout_s=timeout, max_wait_s=max_wait,
                           on_wait=print_wait) as client:
        catalog = await fetch_catalog(client, detail_for=detail_for(desired))
    return resolve_names(desired, catalog)


@click.command("validate")
@click.argument("where", nargs=-1, metavar="[PATH | STACK...]")
@selection_options
@config_options
@click.option("--online", is_flag=True,
              help="Also resolve providers, auth methods and versions against the API's catalog, "
                   "check secret values against the provider's schemas, tool keys and regexes against "
                   "its tools, and that template providers have the auth config and config the API needs.")
@click.option("--strict", is_flag=True,
              help="Offline: an unset ${env:} or a missing ${file:} is an error, not a warning.")
@api_options
@network_options
@click.pass_obj
def command(out: Output, where: tuple[str, ...], every: bool, changed_since: str | None,
            workspace_file: Path | None, **args: Any) -> None:
    """Check the YAML at PATH (a file or a directory; default: the current directory), or the
    workspace's STACK names (--all, --changed-since REF).

    Offline, secret values are not needed: an unset ${env:} or missing ${file:} is a warning
    (an error with --strict or --online). Exit code 0 when valid, 1 when not (every problem is
    listed, with file:line).
    """
    chosen = select(where, every, changed_since, workspace_file)
    if chosen is None:
        validate_one(out, config_path(where), args)
        return
    failed = []
    for unit in chosen.units:
        try:
            path, uargs = unit_args(chosen.found, unit, args, api=args["online"])
            validate_one(out, path, uargs, label=f"{unit.name}: ")
        except MetorialApplyError as exc:
            failed.append(unit.name)
            for line in error_lines(exc):
                click.echo(f"{unit.name}: {line}", err=True)
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(chosen.units)} stacks are not valid: {', '.join(failed)}")
    if not chosen.units:
        out.info("No stacks to validate.")


def validate_one(out: Output, path: Path, args: dict[str, Any], label: str = "") -> None:
    """Validate one configuration (ConfigError when it is not valid) and say so."""
    online, api_url = args["online"], args["api_url"]
    warnings: list[Diagnostic] | None = None if args["strict"] or online else []
    desired = load_config(path, stack=args["stack"], variables=parse_vars(args["variables"]),
                          var_files=args["var_files"], env=dict(os.environ), warnings=warnings)
    for warning in [*(warnings or []), *short_secrets(desired)]:
        out.echo(f"Warning: {label}{warning}" + (f"\n  hint: {warning.hint}" if warning.hint else ""), err=True)
    if online:
        from metorial_apply.cli.session import run_async  # the client stack, only when online

        desired = run_async(_online(desired, path, api_url, args["api_key"], args["timeout"], args["max_wait"]))
    count = len(desired)
    where = " against " + ("the local emulator" if api_url == "local" else api_url) if online else ""
    out.info(f"{label}Valid: {count} resource{'s' if count != 1 else ''} in stack {desired.stack} "
             f"({_files_text(path)}){where}.")
