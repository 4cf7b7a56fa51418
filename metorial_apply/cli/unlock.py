"""`metorial-apply unlock --stack NAME RUN_ID`: break a stack lock by hand.

For a run that is gone (a killed pipeline whose lock has not expired yet). If the run is still
alive, its next renewal finds its record deleted and it stops starting changes. The run id is
the one the refusal named, so a typo cannot break someone else's lock.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from metorial_apply.api.client import open_client
from metorial_apply.apply.lock import delete_record, lock_records
from metorial_apply.cli.options import api_options
from metorial_apply.cli.output import Output
from metorial_apply.cli.session import STATE_DIR, require_secret_key
from metorial_apply.core.errors import UsageError
from metorial_apply.core.lock import LockRecord, printable

EXIT_OK = 0


def not_held(stack: str, run: str, held: list[LockRecord]) -> UsageError:
    others = "; ".join(r.describe() for r in held)
    state = f"it is held by {others}" if held else "it is not locked"
    return UsageError(f"run {printable(run)} holds no lock on stack {stack!r}: {state}")


async def unlock(out: Output, stack: str, run: str, args: dict[str, Any]) -> int:
    async with open_client(args["api_url"], args["api_key"], state_dir=Path(STATE_DIR)) as client:
        require_secret_key(client)
        records = sorted((r for r in await lock_records(client) if r.stack == stack), key=LockRecord.order)
        mine = [r for r in records if r.run == run]
        if not mine:
            raise not_held(stack, run, records)
        for record in mine:
            await delete_record(client, record)
    out.echo(f"Unlocked stack {stack!r}: removed the lock of {mine[0].describe()}.")
    out.echo("If that run is still going, it stops starting changes at its next lock renewal.")
    return EXIT_OK


@click.command("unlock")
@click.argument("run_id")
@click.option("--stack", required=True, help="The stack whose lock to break.")
@api_options
@click.pass_context
def command(ctx: click.Context, run_id: str, stack: str, **args: Any) -> None:
    """Break the stack lock held by run RUN_ID (named by the run that was refused).

    Use it only when that run is gone: the lock is what keeps two applies of one stack apart.
    With --api-url local, run it in the configuration's directory (the emulator's state is there).
    """
    out: Output = ctx.obj or Output()
    ctx.exit(asyncio.run(unlock(out, stack, run_id, args)))
