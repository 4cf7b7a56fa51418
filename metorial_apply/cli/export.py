"""`metorial-apply export`: write YAML in our language for what already exists — one stack's
managed resources (`--stack NAME`), or the organization's unmanaged objects (the default, also
`--unmanaged`) with an `imports:` entry each. The conversion is render/export.py (pure); this
module reads the API and writes the directory atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click

from metorial_apply.api.catalog import fetch_catalog
from metorial_apply.api.client import open_client
from metorial_apply.cli.options import api_options, network_options
from metorial_apply.cli.output import Output, inert
from metorial_apply.cli.plan import write_atomic
from metorial_apply.cli.session import print_wait, require_secret_key, run_async, state_dir_for
from metorial_apply.config.sections import STACK
from metorial_apply.core.errors import UsageError
from metorial_apply.core.kinds import METORIAL_KINDS, SECTIONS
from metorial_apply.core.model import Catalog
from metorial_apply.core.scrub import SECRETS
from metorial_apply.render.export import CONFIG_FILE, ENV_FILE, Export, ExportRequest, export

KIND_CHOICES = sorted(METORIAL_KINDS) + sorted(s for s in SECTIONS if s not in METORIAL_KINDS)


async def read_all(args: dict[str, Any]) -> tuple[dict[str, list[Any]], Catalog]:
    """One paginated list per kind (concurrently), then the catalog's detail for the providers seen."""
    async with open_client(args["api_url"], args["api_key"], state_dir=state_dir_for(Path(".")),
                           timeout_s=args["timeout"], max_wait_s=args["max_wait"], on_wait=print_wait) as client:
        require_secret_key(client)
        paths = {kind.path: kind.kind for kind in METORIAL_KINDS.values()}
        listed = {paths[p]: items for p, items in (await client.list_many(paths)).items()}
        providers = {o.get("provider_id") for items in listed.values() for o in items if isinstance(o, dict)}
        catalog = await fetch_catalog(client, detail_for={p for p in providers if isinstance(p, str)})
    return listed, catalog


def check_out_dir(out_dir: Path, force: bool) -> bool:
    """Whether DIR is non-empty (allowed with `force` only); refused before anything is read."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir}: not a directory")
    if not (out_dir.is_dir() and any(out_dir.iterdir())):
        return False
    if not force:
        raise UsageError(f"--out {out_dir} is not empty; choose a new or empty directory, or pass --force "
                         f"to overwrite {CONFIG_FILE} and {ENV_FILE} in it")
    return True


def write_files(out_dir: Path, files: dict[str, str], force: bool) -> None:
    """All files or none: a new or empty DIR is filled in a temporary sibling that is then
    renamed onto it. A non-empty DIR needs `force`; then each file is replaced on its own
    (atomically) and other files in DIR are left alone."""
    if check_out_dir(out_dir, force):
        for name, text in sorted(files.items()):
            write_atomic(out_dir / name, text)
        return
    try:
        parent = out_dir.absolute().parent
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".metorial-export-", dir=parent))
    except OSError as exc:
        raise UsageError(f"cannot write {out_dir}: {exc.strerror or type(exc).__name__}") from None
    try:
        for name, text in sorted(files.items()):
            (staging / name).write_text(SECRETS.scrub(text), encoding="utf-8")
        os.replace(staging, out_dir)  # onto a missing or empty directory: one atomic rename
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise UsageError(f"cannot write {out_dir}: {exc.strerror or type(exc).__name__}; nothing was written") \
            from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def summary(result: Export, out_dir: Path, request: ExportRequest) -> str:
    what = f"resources of stack {request.stack}" if request.stack else "unmanaged resources"
    line = f"Exported {result.resources} {what} to {out_dir / CONFIG_FILE}"
    if result.imports:
        line += f" ({result.imports} imports)"
    count = len(result.placeholders)
    return line + f"; {count} write-only value{'s' if count != 1 else ''} to set, listed in {out_dir / ENV_FILE}."


def request_of(stack: str | None, unmanaged: bool, kinds: tuple[str, ...], include_defaults: bool,
               as_stack: str | None) -> ExportRequest:
    if stack and unmanaged:
        raise click.UsageError("--stack and --unmanaged exclude each other")
    for name, value in (("--stack", stack), ("--as-stack", as_stack)):
        if value is not None and not STACK.fullmatch(value):
            raise click.BadParameter(f"{value!r} is not a valid stack name", param_hint=name)
    if stack and as_stack:
        raise click.UsageError("--as-stack names the stack of unmanaged resources; with --stack it is that stack")
    chosen = frozenset(SECTIONS[k].kind if k in SECTIONS else k for k in kinds)
    return ExportRequest(stack=stack, kinds=chosen, include_defaults=include_defaults,
                         out_stack=as_stack or "default")


@click.command("export")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Directory to write.")
@click.option("--stack", default=None, help="Export this stack's managed resources.")
@click.option("--unmanaged", is_flag=True, help="Export unmanaged objects with imports: (the default).")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(KIND_CHOICES), help="Only this kind (repeatable).")
@click.option("--include-defaults", is_flag=True, help="Also the platform's auto-created defaults.")
@click.option("--force", is_flag=True, help="Overwrite the exported files in a non-empty DIR.")
@click.option("--as-stack", default=None, metavar="NAME", help="`stack:` for unmanaged objects [default: default].")
@api_options
@network_options
@click.pass_obj
def command(out: Output, out_dir: Path, stack: str | None, unmanaged: bool, kinds: tuple[str, ...],
            include_defaults: bool, force: bool, as_stack: str | None, **args: Any) -> None:
    """Write YAML for what exists: unmanaged objects with imports: (default), or one stack's
    resources (--stack). Write-only values become ${env:…} placeholders listed in DIR/.env.example."""
    request = request_of(stack, unmanaged, kinds, include_defaults, as_stack)
    check_out_dir(out_dir, force)
    listed, catalog = run_async(read_all(args))
    result = export(listed, catalog, request)
    write_files(out_dir, result.files, force)
    for note in result.notes:
        click.echo(f"Note: {inert(note)}", err=True)
    click.echo(summary(result, out_dir, request), color=out.color)
