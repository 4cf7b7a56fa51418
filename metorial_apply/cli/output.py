"""Terminal output settings and error reporting for the CLI (colour, verbosity, TTY/CI mode)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import click

from metorial_apply.core.errors import ApiError, ConfigError, MetorialApplyError, UnauthorizedError
from metorial_apply.core.inert import inert


@dataclass(frozen=True)
class Output:
    verbose: int = 0
    quiet: bool = False
    color: bool = False
    debug: bool = False
    interactive: bool = False  # stdout is a TTY and not CI: progress bars, prompts

    @classmethod
    def create(cls, *, verbose: int, quiet: bool, no_color: bool, debug: bool) -> Output:
        tty = sys.stdout.isatty()
        ci = bool(os.environ.get("CI"))
        color = tty and not no_color and "NO_COLOR" not in os.environ
        return cls(verbose=verbose, quiet=quiet, color=color, debug=debug, interactive=tty and not ci)

    def echo(self, text: str = "", *, err: bool = False) -> None:
        click.echo(text, err=err, color=self.color)

    def info(self, text: str) -> None:
        if not self.quiet:
            self.echo(text)


def key_hint(exc: ApiError, origin: str) -> str | None:
    """A 401 from the Metorial API blames the key by where it came from, not by the HTTP header the
    server's generic hint names; other errors (and a key backend's 401) keep the server's hint."""
    # Here, not at the top: every command reports errors, and only an API error needs the client stack.
    from metorial_apply.api.keys import KEY_CALL_KIND

    if not isinstance(exc, UnauthorizedError) or exc.call.kind == KEY_CALL_KIND:
        return exc.hint
    return (f"the API refused the key in {origin}: use a current secret key (metorial_sk_…) of this "
            "organization and instance (Developer → API Keys)")


def error_lines(exc: BaseException, *, key_origin: str = "METORIAL_API_KEY") -> list[str]:
    """An error as lines for a person: never a traceback for user errors, never a secret, and
    inert (an API's code and message, or an address from a stamp, can carry control characters)."""
    if isinstance(exc, ConfigError):
        lines = []
        for d in exc.diagnostics:
            lines.append(f"Error: {inert(str(d))}")
            if d.hint:
                lines.append(f"  hint: {inert(d.hint)}")
        count = len(exc.diagnostics)
        return lines + [f"{count} error{'s' if count != 1 else ''}; nothing was sent to the API."]
    if isinstance(exc, ApiError):
        hint = key_hint(exc, key_origin)
        return [f"Error: {inert(str(exc))}"] + ([f"  hint: {inert(hint)}"] if hint else [])
    if isinstance(exc, MetorialApplyError):
        return [f"Error: {inert(str(exc))}"]
    # An unexpected exception is a bug. Its message may carry values, so only its type is shown
    # unless --debug asks for the traceback.
    return [f"Error: internal error ({type(exc).__name__}); re-run with --debug for details."]


def report_error(exc: BaseException, *, debug: bool = False, key_origin: str = "METORIAL_API_KEY") -> None:
    """Print `error_lines` to stderr (and, for a bug with --debug, the redacted traceback)."""
    for line in error_lines(exc, key_origin=key_origin):
        click.echo(line, err=True)
    if debug and not isinstance(exc, MetorialApplyError):
        click.echo(redacted_traceback(exc), err=True, nl=False)


def redacted_traceback(exc: BaseException) -> str:
    """The frames of `exc` and of what caused it, each closed by its type alone: an exception's
    text may quote a value (a secret read from the environment, say); its frames do not."""
    import traceback  # only for --debug; every command imports this module at start-up

    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts: list[str] = []
    for link in reversed(chain):
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(link.__traceback__))
        parts.append(f"{type(link).__module__}.{type(link).__qualname__} (message withheld: it may quote a value)\n")
    return "".join(parts)
