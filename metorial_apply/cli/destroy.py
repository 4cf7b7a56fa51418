"""`metorial-apply destroy [PATH]`: delete every resource of the stack, dependents first.

The stack comes from `--stack` or the config's `stack:`. Resources marked `protect: true` in
the config, or applied with it (the flag is kept in their stamp), refuse: set `protect: false`
and apply to destroy them. There is deliberately no override flag, as with Terraform's
prevent_destroy; unlike it, deleting the line cannot bypass the protection, and `--stack`
without a config is guarded too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from metorial_apply.apply.journal import Journal
from metorial_apply.cli.apply import EXIT_ERROR, EXIT_OK, common_options, finish, prepare, recorded_changes, show_plan
from metorial_apply.cli.lock import stack_lock
from metorial_apply.cli.options import api_options, config_options, network_options
from metorial_apply.cli.output import Output
from metorial_apply.cli.recording import check_indexed, tidy
from metorial_apply.cli.safety import Approval, confirm
from metorial_apply.cli.session import load_desired, session, state_dir_for
from metorial_apply.config.files import YAML_SUFFIXES
from metorial_apply.core.errors import UsageError
from metorial_apply.core.model import Address
from metorial_apply.core.state import State
from metorial_apply.planning.plan import build_plan
from metorial_apply.planning.safety import check_destroy


def has_config(path: Path) -> bool:
    if path.is_file():
        return True
    return any(
        p.suffix in YAML_SUFFIXES
        for p in path.rglob("*")
        if not any(q.startswith(".") for q in p.relative_to(path).parts)
    )


def stack_desired(path: Path | None, args: dict[str, Any]) -> tuple[State, frozenset[Address]]:
    """The stack to destroy (desired: empty) and the addresses the config protects. `--stack`
    without a PATH needs no config at all, and reads none: live stamps still carry `protect`."""
    if args["stack"] and path is None:
        return State.of(args["stack"], []), frozenset()
    path = path if path is not None else Path(".")
    if args["stack"] and not has_config(path):
        return State.of(args["stack"], []), frozenset()
    if not has_config(path):
        raise UsageError(f"no configuration in {path} to take the stack name from; pass --stack NAME")
    config = load_desired(path, args | {"secrets_out": True})  # nothing is created: no secret to keep
    # The backends stay, the keys go: every key of ours is deleted after its consumers.
    return State.of(config.stack, [], key_backends=config.key_backends), frozenset(r.address for r in config
                                                                                   if r.protect)


async def destroy_path(out: Output, path: Path | None, args: dict[str, Any]) -> int:
    desired, protected = stack_desired(path, args)
    path = path if path is not None else Path(".")
    journal = Journal.open(args["journal"], stack=desired.stack) if args["journal"] else None
    try:
        lock = stack_lock(out, args["lock"], journal.run if journal else None)
        async with session(desired, state_dir_for(path), args, journal.call if journal else None, resolve=False,
                           lock=lock) as s:
            plan = build_plan(desired, s.read.state)
            show_plan(out, plan, s)
            if not plan.actionable():
                out.echo(f"Nothing to destroy: stack {desired.stack!r} has no resources.")
                return EXIT_OK if await tidy(out, s) else EXIT_ERROR
            check_destroy(plan, protected)
            check_indexed(s)
            if not await confirm(out, Approval(auto=args["auto_approve"], verb="destroy", plan=plan)):
                out.echo("Destroy cancelled; nothing was changed.")
                return EXIT_ERROR
            report, stopped_by, recorded = await recorded_changes(out, plan, s, args, journal)
        code = finish(out, report, stopped_by, journal, verb="Destroy")
        return code if recorded or code != EXIT_OK else EXIT_ERROR
    finally:
        if journal:
            journal.close()


@click.command("destroy")
@click.argument("path", type=click.Path(exists=True, path_type=Path), required=False)
@config_options
@api_options
@network_options
@common_options
@click.pass_context
def command(ctx: click.Context, path: Path | None, **args: Any) -> None:
    """Delete every resource of the stack (from `--stack` or the config at PATH), dependents first.

    Resources with `protect: true` (in the config, or as last applied) refuse; set
    `protect: false` and apply to destroy them.
    """
    out = prepare(ctx, args)
    ctx.exit(asyncio.run(destroy_path(out, path, args)))
