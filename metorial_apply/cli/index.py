"""`metorial-apply index rebuild --stack S`: build a stack's index from the stamps on its objects.

The one way an index is made from stamps: a stack from before the index moves over with it, and
a stack whose index records were deleted or damaged is restored with it. Stamps can be copied by
any key of the organization, so it shows every claim and asks, refuses an address two stamped
objects claim (naming both: delete or unstamp the wrong one first), and never runs unattended in
CI (`--yes` is refused when CI is set). It writes under the stack lock, signed when
METORIAL_APPLY_INDEX_KEY is set.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import click

from metorial_apply.api.client import open_client
from metorial_apply.api.ownership import our_address
from metorial_apply.apply.index import IndexWriter
from metorial_apply.apply.lock import hold_stack_lock
from metorial_apply.cli.lock import lock_options, lock_settings
from metorial_apply.cli.options import api_options, index_keys
from metorial_apply.cli.output import Output
from metorial_apply.cli.safety import ask
from metorial_apply.cli.session import STATE_DIR, require_secret_key
from metorial_apply.config.sections import STACK
from metorial_apply.core.errors import SafetyError, UsageError
from metorial_apply.core.index import (
    Index,
    IndexEntry,
    StackIndexError,
    heads_of,
    is_index_record,
    read_index,
    strays,
)
from metorial_apply.core.inert import inert
from metorial_apply.core.kinds import METORIAL_KINDS
from metorial_apply.core.lock import is_lock_record
from metorial_apply.core.model import Stamp

EXIT_OK, EXIT_ERROR = 0, 1
Raw = dict[str, Any]


def stamped(stack: str, listed: dict[str, list[Raw]]) -> dict[str, list[tuple[str, Stamp]]]:
    """Address → (id, stamp) of every active object stamped for `stack` with an address of its kind."""
    out: dict[str, list[tuple[str, Stamp]]] = {}
    for kind in METORIAL_KINDS.values():
        for obj in listed.get(kind.kind, []):
            stamp = Stamp.of(obj)
            if (stamp is None or stamp.stack != stack or not isinstance(obj.get("id"), str) or is_lock_record(obj)
                    or is_index_record(obj) or obj.get("status", "active") != "active"
                    or our_address(stamp.address, kind) is None):
                continue
            out.setdefault(stamp.address, []).append((obj["id"], stamp))
    return out


def entries_of(stack: str, claims: dict[str, list[tuple[str, Stamp]]]) -> tuple[IndexEntry, ...]:
    """One entry per address; an address two objects claim is refused, naming both."""
    doubled = {a: c for a, c in claims.items() if len(c) > 1}
    if doubled:
        lines = "; ".join(f"{inert(a)} by {', '.join(sorted(i for i, _ in c))}" for a, c in sorted(doubled.items()))
        raise StackIndexError(f"stack {stack!r}: more than one object claims an address ({lines}). Delete the "
                              "wrong one, or remove its metorial-apply/ metadata keys, then rebuild.")
    return tuple(sorted((IndexEntry(id=c[0][0], stamp=c[0][1].model_copy(update={"run": None}))
                         for c in claims.values()), key=lambda e: e.id))


def show_claims(out: Output, stack: str, claims: dict[str, list[tuple[str, Stamp]]], previous: str) -> None:
    out.echo(f"Stack {stack!r}: {previous}. The rebuilt index would claim {len(claims)} object(s):")
    for address, [(id, stamp)] in sorted(claims.items()):
        run = f"written by run {inert(stamp.run)}" if stamp.run else "no run id"
        out.echo(f"  {inert(address):48} {inert(id)}  ({run})")


def unattended(yes: bool) -> None:
    if yes and os.environ.get("CI"):
        raise SafetyError("refusing `index rebuild --yes` with CI set: a rebuild claims whatever carries the "
                          "stack's stamps, so a person reviews it at a terminal", flag="--yes")


async def approved(out: Output, stack: str, yes: bool) -> bool:
    if yes:
        return True
    if not out.interactive:
        raise SafetyError("refusing to rebuild the index without confirmation (not a terminal); review the claims "
                          "at a terminal, or pass --yes outside CI", flag="--yes")
    question = f'\nRebuild the index of stack {stack!r} with these claims? Only "yes" will be accepted'
    return (await ask(question)).strip() == "yes"


def describe(stack: str, templates: list[Raw], public: bytes | None) -> tuple[Index | None, str]:
    try:
        index = read_index(stack, templates, public)
    except StackIndexError as exc:
        return None, f"its index cannot be read ({inert(str(exc))})"
    if index is None:
        return None, "it has no index"
    return index, f"its index (generation {index.generation}) lists {len(index.entries)} object(s)"


async def rebuild(out: Output, stack: str, args: dict[str, Any]) -> int:
    unattended(args["yes"])
    private, public = index_keys()
    settings = lock_settings(args)
    async with open_client(args["api_url"], args["api_key"], state_dir=args["state_dir"]) as client:
        require_secret_key(client)
        async with hold_stack_lock(client, stack, settings, on_note=lambda t: out.echo(f"Lock: {t}", err=True)) as lock:
            paths = {k.path: k.kind for k in METORIAL_KINDS.values()}
            listed = {paths[p]: items for p, items in (await client.list_many(paths)).items()}
            templates = listed.get("session_template", [])
            claims = stamped(stack, listed)
            entries = entries_of(stack, claims)
            index, previous = describe(stack, templates, public)
            show_claims(out, stack, claims, previous)
            if not await approved(out, stack, args["yes"]):
                out.echo("Rebuild cancelled; nothing was written.")
                return EXIT_ERROR
            heads = [h["id"] for h in heads_of(stack, templates) if isinstance(h.get("id"), str)]
            base = Index(stack=stack, generation=index.generation if index else 0, head=heads[0] if heads else None)
            writer = IndexWriter(client, lock, base, strays(stack, templates, None), private)
            done = await writer.write(Index(stack=stack, generation=base.generation + 1, entries=entries,
                                            keys=index.keys if index else ()), tuple(heads[1:]))
    out.echo(f"Rebuilt the index of stack {stack!r}: generation {done.generation}, {len(done.entries)} object(s), "
             f"{len(done.shards)} shard(s){', signed' if private else ''}.")
    return EXIT_OK


@click.group("index")
def command() -> None:
    """The stack index: what each stack owns, kept in the API."""


@command.command("rebuild")
@click.option("--stack", required=True, help="The stack whose index to build from its objects' stamps.")
@click.option("--yes", is_flag=True, help="Do not ask (refused when CI is set).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(STATE_DIR),
              hidden=True, help="Where --api-url local keeps the emulator's state.")
@api_options
@lock_options
@click.pass_context
def rebuild_command(ctx: click.Context, stack: str, **args: Any) -> None:
    """Build the index of stack STACK from the stamps on its objects (shows the claims, then asks).

    With --api-url local, run it in the configuration's directory (the emulator's state is there).
    """
    if not STACK.fullmatch(stack):
        raise UsageError(f"{stack!r} is not a stack name")
    out: Output = ctx.obj or Output()
    ctx.exit(asyncio.run(rebuild(out, stack, args)))
