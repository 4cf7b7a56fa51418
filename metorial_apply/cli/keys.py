"""Keys in plan and apply: the key backends' clients and live keys beside the Metorial session,
the key plan settled with the resource plan, and the apply run between the key steps."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from metorial_apply.api.keylive import KeyClients
from metorial_apply.apply.keyapply import apply_with_keys
from metorial_apply.apply.keyrun import KeyRunner
from metorial_apply.apply.report import ApplyReport
from metorial_apply.apply.secrets_out import SecretsOut
from metorial_apply.core.keys import KEY_ADDRESS_KIND, KeyBackend, LiveKey, parse_held
from metorial_apply.core.model import Address
from metorial_apply.core.state import State
from metorial_apply.planning.keybind import consumers, settle
from metorial_apply.planning.keychanges import with_keys
from metorial_apply.planning.keys import KeyInputs, KeyPlan, held_identities, key_fingerprints
from metorial_apply.planning.plan import Action, Plan


@dataclass
class KeySession:
    """What the key backends said this run: open clients and every key they list."""

    clients: KeyClients
    live: tuple[LiveKey, ...]


def held_from(live: State) -> dict[str, frozenset[str]]:
    """Key name → the identities our live consumers' stamps record holding."""
    records = {r.address: parse_held(r.stamp.keys) or {} for r in live if r.stamp is not None}
    return held_identities(records)


@asynccontextmanager
async def key_session(backends: tuple[KeyBackend, ...], state_dir: Path | None,
                      on_call: Callable[[Any], None] | None) -> AsyncIterator[KeySession | None]:
    """Clients for the configured backends (None without any), their keys read once."""
    if not backends:
        yield None
        return
    async with KeyClients(backends, state_dir=state_dir, on_call=on_call) as clients:
        yield KeySession(clients, await clients.read())


def rotate_name(value: str) -> str | None:
    """The key name of `api_key.NAME`; None when `value` is no api key address."""
    kind, _, name = value.partition(".")
    return name if kind == KEY_ADDRESS_KIND and name else None


def rotate_names(values: tuple[str, ...]) -> frozenset[str]:
    """`--rotate api_key.NAME` (repeatable) → key names."""
    out = set()
    for value in values:
        name = rotate_name(value)
        if name is None:
            raise click.BadParameter(f"{value!r} is not an api key address (api_key.NAME)", param_hint="--rotate")
        out.add(name)
    return frozenset(out)


def key_inputs(desired: State, live: State, ks: KeySession, args: dict[str, Any]) -> KeyInputs:
    return KeyInputs(stack=desired.stack, desired=desired.api_keys, live=ks.live, backend_types=ks.clients.types(),
                     held=held_from(live), rotate=rotate_names(tuple(args.get("rotate") or ())), now=time.time())


def settled(desired: State, live: State, ks: KeySession, args: dict[str, Any], build: Callable[[State], Plan]
            ) -> tuple[KeyPlan, State]:
    """The key plan and the desired State bound to it (see planning/keybind.py)."""

    def recreated(bound: State) -> frozenset[Address]:
        return frozenset(c.address for c in build(bound).changes if c.action in (Action.CREATE, Action.REPLACE))

    return settle(key_inputs(desired, live, ks, args), desired, recreated)


def keyed_plan(desired: State, live: State, ks: KeySession, args: dict[str, Any], build: Callable[[State], Plan]
               ) -> Plan:
    """The resource plan of the desired State bound to the key plan, with the key changes."""
    keys, bound = settled(desired, live, ks, args, build)
    return with_keys(build(bound), keys, key_fingerprints(desired.stack, ks.live), consumers(desired.api_keys))


async def run_with_keys(plan: Plan, s: Any, args: dict[str, Any], journal: Any, apply_kw: dict[str, Any]
                        ) -> ApplyReport:
    """The apply with the key steps around it; `--secrets-out` is created before the first key."""
    assert plan.keys is not None and s.keys is not None
    unconsumed = frozenset(k.name for k in s.desired.api_keys if not k.consumers)
    types = s.keys.clients.types()
    path = args.get("secrets_out")
    made = [(k.name, types.get(k.backend, "metlo")) for k in s.desired.api_keys
            if k.name in unconsumed and (c := plan.keys.of(k.name)) is not None and c.create]
    out = SecretsOut.open(path, made) if path and made else None  # only when a secret is about to exist
    try:
        runner = KeyRunner(s.keys.clients.clients, journal=journal, secrets_out=out, unconsumed=unconsumed,
                           backend_types=types)
        return await apply_with_keys(plan, s.client, plan.keys, s.desired, runner, **apply_kw)
    finally:
        if out is not None:
            out.close()


def key_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--rotate api_key.NAME` and `--secrets-out FILE` (plan and apply)."""
    f = click.option("--secrets-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Write the one-time secrets of api keys nothing consumes to FILE (dotenv, 0600; "
                          "never overwritten).")(f)
    return click.option("--rotate", "rotate", multiple=True, metavar="api_key.NAME",
                        help="Rotate this api key: new key, its consumers re-created with it, old key deleted.")(f)
