"""One API session per command, shared by plan, apply and destroy: load the config, open the
client, read the catalog (resolving the config's names) and live state, and build a plan."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from metorial_apply.api.catalog import fetch_catalog
from metorial_apply.api.client import MetorialClient, open_client
from metorial_apply.api.keys import KeyClients, key_clients
from metorial_apply.api.limits import DEFAULT_DEADLINE_S
from metorial_apply.api.live import LiveRead, read_live
from metorial_apply.api.waits import DEFAULT_MAX_WAIT_S, WaitNotice
from metorial_apply.apply.lock import StackLock
from metorial_apply.cli.options import index_keys, key_origin, rotate_names, wait_line
from metorial_apply.config.load import load_config
from metorial_apply.config.predict import check_predicted
from metorial_apply.config.resolve import resolve_names
from metorial_apply.core.errors import ApiKeyError, Diagnostic
from metorial_apply.core.fingerprint import warm
from metorial_apply.core.kinds import METORIAL_KINDS
from metorial_apply.core.model import Catalog
from metorial_apply.core.scrub import SECRETS
from metorial_apply.core.state import State
from metorial_apply.planning.plan import Plan, build_plan
from metorial_apply.planning.saved import desired_digest

STATE_DIR = ".metorial-apply"
T = TypeVar("T")


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, with the result kept out of the task: on exit, asyncio.run restores
    the SIGINT handler and Python 3.11 then formats the repr of its main task, result included,
    which for a 10,000-resource plan took seconds."""
    box: list[T] = []

    async def boxed() -> None:
        box.append(await main)

    asyncio.run(boxed())
    return box[0]


def print_wait(notice: WaitNotice) -> None:
    """The client never sleeps silently: every notice becomes a line on stderr."""
    click.echo(wait_line(notice), err=True)


def state_dir_for(path: Path) -> Path:
    """Where `--api-url local` keeps the emulator's SQLite: beside the config."""
    return (path if path.is_dir() else path.parent) / STATE_DIR


def require_secret_key(client: MetorialClient) -> None:
    """The client's check, blaming the key on where it came from (--api-key or the environment)."""
    try:
        client.require_secret_key()
    except ApiKeyError as exc:
        origin = key_origin()
        if origin == "METORIAL_API_KEY":
            raise
        raise ApiKeyError(str(exc).replace("in METORIAL_API_KEY", "given with --api-key")
                          .replace("METORIAL_API_KEY", "--api-key")) from None


def lookalike_names(desired: State) -> frozenset[tuple[str, str]]:
    """(kind, name) of every desired resource: of the objects we do not own, only those a plan's
    look-alike notes can name keep their names through the live read (planning/adoption.py)."""
    return frozenset((r.address.kind, r.spec.get("name") or r.address.name) for r in desired)


def detail_for(desired: State) -> set[str]:
    """Providers the config names: only those need versions, methods and schemas."""
    return {str(r.spec["provider"]) for r in desired if r.spec.get("provider")}


def load_desired(config_path: Path, args: dict[str, Any], *, stack: str | None = None,
                 warnings: list[Diagnostic] | None = None, key_credentials: bool = True) -> State:
    """The desired State; with `warnings` an absent secret is reported there (plan --no-secrets);
    without `key_credentials` (plan) a key backend lacking them is left unread, not an error.
    The scrubber's finders of its secrets are built in a thread meanwhile (the first write waits)."""
    try:
        return load_config(config_path, stack=stack or args["stack"], variables=args["variables"],
                           var_files=args["var_files"], warnings=warnings,
                           secrets_out=bool(args.get("secrets_out")), key_credentials=key_credentials)
    finally:
        threading.Thread(target=SECRETS.warm, daemon=True, name="scrubber").start()


@dataclass
class Session:
    """An open API session for one command: the client, the catalog and what was read."""

    client: MetorialClient
    catalog: Catalog
    desired: State
    read: LiveRead
    live_seconds: float
    list_calls: int
    lock: StackLock | None = None  # held from before the live read to the session's end (apply, destroy)
    keys: KeyClients | None = None  # the key backends' clients, when the config has backends (and secrets)
    index_key: bytes | None = None  # the private half of the index signing key (apply jobs)
    live_chain: int = 0  # the live read's longest run of pages that waited for one another


Lock = Callable[[MetorialClient, str], AbstractAsyncContextManager[StackLock]]


@asynccontextmanager
async def session(desired: State, state_dir: Path, args: dict[str, Any], on_call: Callable[[Any], None] | None,
                  *, resolve: bool = True, on_phase: Callable[[str], None] | None = None,
                  lock: Lock | None = None) -> AsyncIterator[Session]:
    """Open the client, read the catalog (resolving the config's names) and live state; close on
    exit. `on_phase` hears "catalog" and "live read" as each is done (plan --stats). With `lock`,
    the stack lock is taken before the live read and held until the session ends."""
    lap = on_phase or (lambda name: None)
    private, public = index_keys()  # before any network: a bad key fails fast
    declared = frozenset(str(r.address) for r in desired)
    async with open_client(args["api_url"], args["api_key"], state_dir=state_dir,
                           rate_limit=args.get("rate_limit"), on_call=on_call,
                           max_concurrency=args["parallelism"], timeout_s=args.get("timeout", DEFAULT_DEADLINE_S),
                           max_wait_s=args.get("max_wait", DEFAULT_MAX_WAIT_S), on_wait=print_wait) as client:
        require_secret_key(client)
        catalog = await fetch_catalog(client, detail_for=detail_for(desired))
        if resolve:
            desired = resolve_names(desired, catalog, predict=False)
        lap("catalog")
        # A backend not read (plan without its credentials; --no-secrets, as credentials are secrets
        # too) has its keys planned from the stack index: nothing is sent to it.
        backends = () if args.get("no_secrets") else tuple(b for b in desired.key_backends if b.readable)
        unread = frozenset(b.name for b in desired.key_backends) - {b.name for b in backends}
        async with lock(client, desired.stack) if lock else nullcontext() as held, \
                key_clients(backends, state_dir=state_dir, on_call=on_call, budget=client.budget,
                            limits=client.limits) as keys:
            started, pages = time.perf_counter(), client.stats.pages
            read = await read_live(client, desired.stack, catalog, desired.directives, keys if backends else None,
                                   index_key=public, declared=declared, names=lookalike_names(desired),
                                   from_index=unread)
            lap("live read")
            if resolve:  # template providers may lean on defaults only the live read shows
                check_predicted(desired, catalog, read.defaults)
            yield Session(client, catalog, desired, read, time.perf_counter() - started,
                          client.stats.pages - pages, held, keys if backends else None, private,
                          max(client.stats.chains.get(k.kind, 0) for k in METORIAL_KINDS.values()))


def fresh_plan(s: Session, args: dict[str, Any], config_path: Path) -> Plan:
    """Plan desired against what the session read; secret fingerprints are warmed in threads first."""
    want, have = s.desired.by_address(), s.read.state.by_address()
    warm(((want[a].secret, have[a].stamp) for a in want.keys() & have.keys() if want[a].secret is not None),
         workers=args["parallelism"])

    plan = build_plan(s.desired, s.read.state, targets=args["targets"], key=args.get("fingerprint_key"),
                      takeover=bool(args.get("takeover")), unmanaged=s.read.unmanaged(),
                      replace=args.get("replace", ()), rotate=rotate_names(tuple(args.get("rotate") or ())),
                      now=time.time())
    return plan.model_copy(update={"config_path": str(config_path), "desired_digest": desired_digest(s.desired)})
