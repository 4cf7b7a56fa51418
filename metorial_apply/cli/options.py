"""Options shared by several commands, declared once.

Every command module imports this at start-up, offline ones (`validate`, `--version`) too, so
what only a callback or a helper needs (httpx, asyncio, the pydantic models) is imported inside
it: start-up is mostly imports (issue 24, tests/cli/test_startup.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from metorial_apply.api.defaults import DEFAULT_API_URL, DEFAULT_DEADLINE_S, DEFAULT_MAX_WAIT_S, LOCAL
from metorial_apply.core.errors import UsageError
from metorial_apply.core.scrub import SECRETS

if TYPE_CHECKING:
    from metorial_apply.api.ratelimit import RateLimitSettings
    from metorial_apply.api.waits import WaitNotice
    from metorial_apply.core.fingerprint import FingerprintKey

F = Callable[..., Any]


def _api_url(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """A malformed --api-url is a usage error (exit 64), found before anything else is read. The
    default is well-formed: not checking it keeps httpx out of an offline run."""
    if value not in (LOCAL, DEFAULT_API_URL):
        from metorial_apply.api.endpoint import check_api_url

        try:
            check_api_url(value)
        except UsageError as exc:
            raise click.BadParameter(str(exc).removeprefix("--api-url "), param_hint="--api-url") from None
    return value


def key_origin(argv: list[str] | None = None) -> str:
    """Where this command's API key came from, for messages: `--api-key` or `METORIAL_API_KEY`.
    Asked while the command runs, click knows; once it has ended (an error being reported), the
    command line `argv` tells."""
    ctx = click.get_current_context(silent=True)
    if ctx is None and argv is not None:
        given = any(a.partition("=")[0] == "--api-key" for a in argv)
    else:
        given = ctx is not None and ctx.get_parameter_source("api_key") is click.core.ParameterSource.COMMANDLINE
    return "--api-key" if given else "METORIAL_API_KEY"


def _api_key(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    SECRETS.add(value)  # from the command line too: scrubbed from every output like the environment's
    return value


def api_options(f: F) -> F:
    """--api-url / --api-key (env METORIAL_API_URL / METORIAL_API_KEY); `local` = embedded emulator."""
    f = click.option(
        "--api-key", envvar="METORIAL_API_KEY", default=None, show_envvar=True, callback=_api_key,
        help="Secret API key (metorial_sk_…). Defaults to the emulator's local key with --api-url local.",
    )(f)
    f = click.option(
        "--api-url", envvar="METORIAL_API_URL", default=DEFAULT_API_URL, show_default=True,
        show_envvar=True, callback=_api_url,
        help="API base URL, or `local` for the embedded emulator (state in .metorial-apply/).",
    )(f)
    return f


def parse_rate_limit(text: str | None) -> RateLimitSettings | None:
    if not text:
        return None
    from metorial_apply.api.ratelimit import RateLimitSettings

    try:
        return RateLimitSettings.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rate-limit") from None


RATE_LIMIT_HELP = ("Client-side request budget (default: the API's published 5000/600), or a share of the "
                   "organization's limit such as 40% (40%/SECONDS for another window).")


def rate_limit_option(f: F) -> F:
    """--rate-limit for plan and apply: parallel CI jobs of one organization each take a share."""
    return click.option("--rate-limit", default=None, metavar="COUNT/SECONDS|PERCENT%", help=RATE_LIMIT_HELP,
                        callback=lambda _c, _p, v: parse_rate_limit(v))(f)


def network_options(f: F) -> F:
    """--timeout (each request's total deadline) and --max-wait (the run's waiting budget)."""
    f = click.option(
        "--max-wait", type=click.FloatRange(min=0), default=DEFAULT_MAX_WAIT_S, show_default=True, metavar="SECONDS",
        help="Stop once the run has waited this long in all (rate limits, retries); waits are announced every 10 s.",
    )(f)
    f = click.option(
        "--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_DEADLINE_S, show_default=True,
        metavar="SECONDS", help="Total time one API request may take, its whole response included.",
    )(f)
    return f


def wait_line(notice: WaitNotice) -> str:
    """One line for a wait notice (stderr): what for, how long, and the budget spent."""
    verb = "Waiting" if notice.first else "Still waiting"
    # Short waits speak once they add up to 10 s; "Waiting 0 s" would say nothing useful.
    length = f" {notice.seconds_left:.0f} s" if notice.seconds_left >= 1 else ""
    return (f"{verb}{length} for {notice.what}; "
            f"waited {notice.waited_s:.0f} s of {notice.budget_s:g} s (--max-wait).")


def config_options(f: F) -> F:
    """The config path argument plus --stack, --var and --var-file."""
    f = click.option("--var-file", "var_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
                     help="YAML file of variables (repeatable).")(f)
    f = click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
                     help="Set a variable for ${var.NAME} (repeatable).")(f)
    f = click.option("--stack", default=None, help="Ownership scope; overrides `stack:` in the config.")(f)
    return f


GATE_FLAGS = ("--allow-delete", "--force", "--allow-empty", "--takeover")


def gate_options(f: F) -> F:
    """apply's safety-gate flags; `plan` takes them too, to report what such an apply would refuse."""
    f = click.option("--takeover", is_flag=True,
                     help="Let `imports:` adopt objects another stack's stamp claims (a takeover).")(f)
    f = click.option("--allow-empty", is_flag=True, help="Allow an empty configuration that deletes everything.")(f)
    f = click.option("--force", is_flag=True, help="Allow deleting or replacing a large share of the stack.")(f)
    f = click.option("--allow-delete", is_flag=True, help="Allow deletes without a confirmation (required in CI).")(f)
    return f


def gate_flags(args: dict[str, Any]) -> tuple[str, ...]:
    """The gate flags set in `args`, as written on the command line."""
    return tuple(flag for flag in GATE_FLAGS if args.get(flag.removeprefix("--").replace("-", "_")))


def parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    """`NAME=VALUE` pairs → dict; a pair without `=` is a usage error."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {name!r}", param_hint="--var")
        out[name.strip()] = value
    return out


def fingerprint_key() -> FingerprintKey | None:
    """The keyed-fingerprint key from the environment only: a flag would land in shell history.
    Empty counts as unset (a pipeline's missing secret often arrives as an empty variable)."""
    from metorial_apply.core.fingerprint import KEY_ENV, FingerprintKey

    text = os.environ.get(KEY_ENV, "")
    return FingerprintKey.parse(text) if text else None


INDEX_KEY_ENV, INDEX_PUBKEY_ENV = "METORIAL_APPLY_INDEX_KEY", "METORIAL_APPLY_INDEX_PUBKEY"


def index_keys() -> tuple[bytes | None, bytes | None]:
    """(private, public) halves of the stack index's signing key, from the environment only.
    The apply job holds the private half (its public half is derived); plan jobs hold the public
    half. Both set must be one pair. Empty counts as unset."""
    from metorial_apply.core.signing import IndexKeyError, decode_key, public_of

    private_text, public_text = os.environ.get(INDEX_KEY_ENV, ""), os.environ.get(INDEX_PUBKEY_ENV, "")
    private = decode_key(private_text, INDEX_KEY_ENV) if private_text else None
    public = decode_key(public_text, INDEX_PUBKEY_ENV) if public_text else None
    if private is not None:
        derived = public_of(private)
        if public is not None and public != derived:
            raise IndexKeyError(f"{INDEX_KEY_ENV} and {INDEX_PUBKEY_ENV} are not one key pair")
        public = derived
    return private, public


def rotate_name(value: str) -> str | None:
    """The key name of `api_key.NAME`; None when `value` is no api key address."""
    from metorial_apply.core.keys import KEY_ADDRESS_KIND

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


def key_options(f: F) -> F:
    """`--rotate api_key.NAME` and `--secrets-out FILE` (plan and apply)."""
    f = click.option("--secrets-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Write the one-time secrets of api keys nothing consumes to FILE (dotenv, 0600; "
                          "never overwritten).")(f)
    return click.option("--rotate", "rotate", multiple=True, metavar="api_key.NAME",
                        help="Rotate this api key: new key, its consumers re-created with it, old key deleted.")(f)
