"""`emulator serve`: run the emulator over real HTTP with uvicorn, on loopback only.

The main CLI adds `emulator_group` to its commands; `python -m metorial_apply.emulator`
runs the same group on its own.
"""

from __future__ import annotations

from typing import Any

import click
import uvicorn

from .app import create_app
from .loopback import is_loopback, loopback_server
from .settings import EmulatorSettings, FaultSettings, parse_rate_limit


def build_server(
    settings: EmulatorSettings, host: str = "127.0.0.1", port: int = 8787, log_level: str = "warning"
) -> uvicorn.Server:
    """A uvicorn server for the emulator (not started), refusing non-loopback hosts."""
    return loopback_server(create_app(settings), host, port, log_level, date_header=False)


def serve(host: str = "127.0.0.1", port: int = 8787, db: str | None = None, **settings: Any) -> None:
    """Run until interrupted. `settings` are EmulatorSettings fields (faults as a FaultSettings)."""
    build_server(EmulatorSettings(db_path=db, **settings), host, port).run()


def _settings(options: dict[str, Any]) -> EmulatorSettings:
    faults = FaultSettings(
        latency_ms=options["latency_ms"], jitter_ms=options["jitter_ms"], error_rate=options["error_rate"],
        drop_rate=options["drop_rate"], error_after_commit_rate=options["error_after_commit_rate"],
        burst_429_rate=options["burst_429_rate"],
        burst_429_length=options["burst_429_length"], list_lag_ms=options["list_lag_ms"],
        list_lag_jitter_ms=options["list_lag_jitter_ms"], seed=options["seed"],
        patch_resets_tool_filters=options["patch_resets_tool_filters"],
    )
    extra: dict[str, Any] = {}
    if options["rate_limit"]:
        extra["rate_limit_count"], extra["rate_limit_window_seconds"] = parse_rate_limit(options["rate_limit"])
    if options["secret_key"]:
        extra["secret_keys"] = tuple(options["secret_key"])
    if options["publishable_key"]:
        extra["publishable_keys"] = tuple(options["publishable_key"])
    return EmulatorSettings(
        db_path=options["db"],
        faults=faults,
        seed=options["seed"],
        cascade_delay_ms=options["cascade_delay_ms"],
        clock_offset_s=options["clock_offset_s"],
        **extra,
    )


@click.group("emulator", help="Run the local Metorial API emulator.")
def emulator_group() -> None:
    pass


@emulator_group.command("serve", help="Serve the emulator over HTTP on a loopback address.")
@click.option("--api", type=click.Choice(["metorial", "metlo", "metal"]), default="metorial", show_default=True,
              help="Which API to emulate: Metorial, or the Metlo or Metal API-key service.")
@click.option("--revoke-delay-ms", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="--api metlo|metal: how long a deleted key keeps authenticating (the services' auth cache).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--port", default=8787, show_default=True, type=int, help="TCP port to listen on.")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help="SQLite file (default: in memory).")
@click.option("--latency-ms", type=float, default=0.0, show_default=True,
              help="Added delay before every response, in milliseconds.")
@click.option("--jitter-ms", type=float, default=0.0, show_default=True,
              help="Random extra delay, up to this many milliseconds, on top of --latency-ms.")
@click.option(
    "--error-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True, help="Share of requests answered 500."
)
@click.option(
    "--drop-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of committed writes whose response is dropped.",
)
@click.option(
    "--error-after-commit-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of committed writes answered 500 anyway (the write stays).",
)
@click.option(
    "--burst-429-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Probability a request starts a 429 burst.",
)
@click.option(
    "--burst-429-length", type=click.IntRange(min=1), default=3, show_default=True, help="Requests per 429 burst."
)
@click.option("--list-lag-ms", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Lists omit every new object for this many milliseconds (reads by id never lag).")
@click.option("--list-lag-jitter-ms", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="And each new object for its own seeded share of this many milliseconds on top.")
@click.option("--patch-resets-tool-filters", is_flag=True, default=False,
              help="Play the March 2026 engine: a deployment PATCH without tool_filters resets them to all tools.")
@click.option("--clock-offset-s", type=float, default=0.0, show_default=True,
              help="Stamp created_at/updated_at this many seconds ahead of this machine's clock (negative: behind).")
@click.option(
    "--rate-limit", default=None, help="COUNT/SECONDS or a preset: org (5000/600), ip (1000/10), dev (100/600)."
)
@click.option("--seed", type=int, default=None, help="Seed for faults and id suffixes (reproducible runs).")
@click.option(
    "--cascade-delay-ms",
    type=float,
    default=0.0,
    show_default=True,
    help="Delay archive cascades, as the real API does them asynchronously.",
)
@click.option("--secret-key", multiple=True, help="Accepted secret key (repeatable; default: the built-in one).")
@click.option("--publishable-key", multiple=True, help="Accepted publishable key (repeatable).")
def serve_command(**options: Any) -> None:
    if not is_loopback(options["host"]):
        raise click.BadParameter(
            f"{options['host']} is not a loopback address; the emulator only listens on loopback", param_hint="--host"
        )
    if options["api"] != "metorial":
        if options["list_lag_ms"] or options["list_lag_jitter_ms"] or options["clock_offset_s"]:
            raise click.UsageError("--list-lag-ms, --list-lag-jitter-ms and --clock-offset-s apply to --api "
                                   "metorial only")
        from .keys.cli import serve_keys  # only `--api metlo|metal` needs the key emulators (CLI start-up)

        return serve_keys(options["api"], options)
    if options["revoke_delay_ms"]:
        raise click.UsageError("--revoke-delay-ms applies to --api metlo and --api metal only")
    try:
        settings = _settings(options)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    server = build_server(settings, options["host"], options["port"])
    click.echo(f"Metorial API emulator listening on http://{options['host']}:{options['port']}")
    click.echo(f"  secret key:      {settings.secret_keys[0] if settings.secret_keys else '(none)'}")
    click.echo(f"  publishable key: {settings.publishable_keys[0] if settings.publishable_keys else '(none)'}")
    click.echo(f"  admin:           http://{options['host']}:{options['port']}/_emulator/stats")
    server.run()
