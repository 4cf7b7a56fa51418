"""`emulator serve --api metlo|metal`: a key emulator over real HTTP with uvicorn, on loopback only."""

from __future__ import annotations

from typing import Any

import click
import uvicorn

from ..loopback import loopback_server
from ..settings import FaultSettings
from .app import SERVICES, create_key_app
from .runtime import KeySettings

# `serve` options that only the Metorial emulator has, with the value meaning "not given".
METORIAL_ONLY = {"rate_limit": None, "secret_key": (), "publishable_key": (), "cascade_delay_ms": 0.0}


def key_settings(api: str, options: dict[str, Any]) -> KeySettings:
    """Settings from `serve`'s options; a Metorial-only option given here is a usage error."""
    for name, unset in METORIAL_ONLY.items():
        if options.get(name, unset) not in (unset, None):
            raise click.UsageError(f"--{name.replace('_', '-')} applies to --api metorial only")
    faults = FaultSettings(
        latency_ms=options["latency_ms"], jitter_ms=options["jitter_ms"], error_rate=options["error_rate"],
        drop_rate=options["drop_rate"], burst_429_rate=options["burst_429_rate"],
        burst_429_length=options["burst_429_length"], seed=options["seed"],
    )
    return KeySettings(api=api, db_path=options["db"], faults=faults, seed=options["seed"],
                       revoke_delay_ms=options["revoke_delay_ms"])


def build_key_server(settings: KeySettings, host: str, port: int, log_level: str = "warning") -> uvicorn.Server:
    """A uvicorn server for a key emulator (not started), refusing non-loopback hosts."""
    return loopback_server(create_key_app(settings), host, port, log_level)


def serve_keys(api: str, options: dict[str, Any]) -> None:
    """Print where it listens and its bootstrap admin credentials, then serve until interrupted."""
    settings = key_settings(api, options)
    service = SERVICES[api]
    server = build_key_server(settings, options["host"], options["port"])
    url = f"http://{options['host']}:{options['port']}"
    click.echo(f"{service.label} API-key emulator listening on {url}")
    for name, value in service.bootstrap_credentials.items():
        click.echo(f"  bootstrap {name.replace('_', ' ') + ':':<11} {value}")
    click.echo(f"  admin:               {url}/_emulator/stats")
    server.run()
