"""`${…}` interpolation in YAML strings: `${env:NAME}`, `${env:NAME:-default}`, `${var.name}`,
`${file:path}`, `${key.NAME.PART}` (write-only fields only) and `$${` for a literal `${`.

Pure: environment, variables and file reading come in through `Sources`. Values from env or
file are secret, so nothing here ever puts a resolved value into an error message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from difflib import get_close_matches

from metorial_apply.core.keys import slot

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
TOKEN = re.compile(r"\$\$\{|\$\{")


class InterpolationError(Exception):
    """A `${…}` that cannot be resolved; the message names the reference, never a value."""

    def __init__(self, message: str, hint: str | None = None, *, absent: bool = False) -> None:
        self.message, self.hint = message, hint
        self.absent = absent  # an unset ${env:} or a missing ${file:}: a secret not at hand, not a mistake
        super().__init__(message)


@dataclass(frozen=True)
class Variable:
    """A variable's value and whether it came from env or a file (then it is secret)."""

    value: str
    sensitive: bool = False

    def __repr__(self) -> str:
        return f"Variable(sensitive={self.sensitive})"


@dataclass(frozen=True)
class Sources:
    """Where `${…}` values come from. `read_file(path)` returns the text or raises InterpolationError."""

    env: Mapping[str, str]
    variables: Mapping[str, Variable] | None  # None: `${var.…}` is not allowed here
    read_file: Callable[[str], str]
    lenient: bool = False  # offline validate: an absent secret is reported in Resolved.absent, not raised
    # `${key.NAME.PART}`: key name → the parts its backend offers; None where a key may not go
    # (anything but a write-only field, where its secret would be printed).
    keys: Mapping[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class Resolved:
    value: str
    sensitive: bool  # some part came from ${env:} or ${file:}
    absent: tuple[InterpolationError, ...] = ()  # lenient only: the references standing in for absent secrets

    def __repr__(self) -> str:
        return f"Resolved(sensitive={self.sensitive})"


def interpolate(text: str, sources: Sources) -> Resolved:
    """Replace every `${…}` in `text`; raises InterpolationError for the first bad reference."""
    out: list[str] = []
    sensitive = False
    absent: list[InterpolationError] = []
    i = 0
    while (m := TOKEN.search(text, i)) is not None:
        out.append(text[i:m.start()])
        if m.group() == "$${":
            out.append("${")
            i = m.end()
            continue
        end = text.find("}", m.end())
        if end < 0:
            raise InterpolationError("unterminated ${ (no closing })", "write $${ for a literal ${")
        try:
            part = resolve(text[m.end():end], sources)
        except InterpolationError as exc:
            if not (exc.absent and sources.lenient):
                raise
            absent.append(exc)  # the reference itself stands in: it is no secret, and validation goes on
            part = Resolved(text[m.start():end + 1], True)
        out.append(part.value)
        sensitive = sensitive or part.sensitive
        i = end + 1
    out.append(text[i:])
    return Resolved("".join(out), sensitive, tuple(absent))


def resolve(expr: str, sources: Sources) -> Resolved:
    """One expression between `${` and `}`."""
    if expr.startswith("env:"):
        return Resolved(_env(expr[4:], sources.env), True)
    if expr.startswith("var."):
        return _var(expr[4:], sources.variables)
    if expr.startswith("file:"):
        path = expr[5:].strip()
        if not path:
            raise InterpolationError("${file:} needs a path", "e.g. ${file:secrets/token.txt}")
        return Resolved(sources.read_file(path), True)
    if expr.startswith("key."):
        return _key(expr[4:], sources.keys)
    raise InterpolationError(
        f"unknown interpolation ${{{expr}}}",
        "use ${env:NAME}, ${env:NAME:-default}, ${var.NAME}, ${file:PATH} or ${key.NAME.secret}; "
        "write $${ for a literal ${")


KEY_PLACES = ("a config vault's or config's value, an auth config's value, or an auth credential's "
              "client_id or client_secret")


def _key(body: str, keys: Mapping[str, tuple[str, ...]] | None) -> Resolved:
    """`${key.NAME.PART}` → the slot the key's create answer fills at apply time (core/keys.py)."""
    if keys is None:
        raise InterpolationError(f"${{key.{body}}} can only be used in a write-only field ({KEY_PLACES})",
                                 "anywhere else the key's secret would be printed in plans")
    name, _, part = body.rpartition(".")
    if not name:
        raise InterpolationError(f"${{key.{body}}}: want ${{key.NAME.PART}}", "e.g. ${key.metal-sync.secret}")
    if name not in keys:
        close = get_close_matches(name, list(keys), n=1)
        raise InterpolationError(f"api key {name} is not defined",
                                 f'did you mean "{close[0]}"?' if close else "define it under api_keys:")
    if part not in keys[name]:
        close = get_close_matches(part, list(keys[name]), n=1)
        hint = f'did you mean "{close[0]}"?' if close else "its parts are: " + ", ".join(keys[name])
        raise InterpolationError(f"api key {name} has no part {part}", hint)
    return Resolved(slot(name, part), True)


def _env(body: str, env: Mapping[str, str]) -> str:
    name, sep, default = body.partition(":-")
    if not ENV_NAME.fullmatch(name):
        raise InterpolationError(f"${{env:{name}}}: not an environment variable name",
                                 "names are letters, digits and _, e.g. ${env:GITHUB_TOKEN}")
    if name in env:
        return env[name]
    if sep:
        return default
    raise InterpolationError(f"environment variable {name} is not set",
                             f"export {name}, or give a default: ${{env:{name}:-…}}", absent=True)


def _var(name: str, variables: Mapping[str, Variable] | None) -> Resolved:
    if variables is None:
        raise InterpolationError(f"${{var.{name}}} cannot be used here", "variables may use ${env:} and ${file:} only")
    if not VAR_NAME.fullmatch(name):
        raise InterpolationError(f"${{var.{name}}}: not a variable name", "names are letters, digits, _ and -")
    if name in variables:
        found = variables[name]
        return Resolved(found.value, found.sensitive)
    close = get_close_matches(name, list(variables), n=1)
    hint = (
        f'did you mean "{close[0]}"?'
        if close
        else "define it under variables:, in a --var-file, or with --var NAME=VALUE"
    )
    raise InterpolationError(f"variable {name} is not defined", hint)


def interpolate_tree(
    data: object, sources: Sources, path: tuple = ()
) -> tuple[object, set[tuple], list[tuple[tuple, InterpolationError]]]:
    """Interpolate every string inside `data` (keys stay as written).

    Returns the new data, the paths whose value is secret, and (path, error) for each failure.
    """
    sensitive: set[tuple] = set()
    errors: list[tuple[tuple, InterpolationError]] = []

    def walk(value: object, here: tuple) -> object:
        if isinstance(value, dict):
            return {k: walk(v, here + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, here + (i,)) for i, v in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value
        try:
            found = interpolate(value, sources)
        except InterpolationError as exc:
            errors.append((here, exc))
            return value
        errors.extend((here, exc) for exc in found.absent)
        if found.sensitive:
            sensitive.add(here)
        return found.value

    return walk(data, path), sensitive, errors
