"""What a saved plan was made from, so `apply plan.json` works from any directory. Pure.

Recorded: the config root and each var file (relative to the plan file's directory when they
lie below it, else absolute), each var file's SHA-256, the names of `--var` variables with a
salted scrypt of each value (never the value: plan files are CI artifacts), `--stack` and
`--target` and `--replace` as given. Like the rest of the file it is untrusted: a recorded relative path may
not climb out of the plan's directory, the stack still comes from the configuration or
`apply --stack`, and every check below names the one thing that differs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import PurePath, PurePosixPath

from pydantic import Field

from metorial_apply.core.errors import PlanError, StalePlanError
from metorial_apply.core.model import Frozen

VAR_N, VAR_R, VAR_P = 2**14, 8, 1  # a --var may be a short, guessable word: make each guess cost


class VarFile(Frozen):
    path: str  # relative to the plan file's directory (POSIX), or absolute
    digest: str  # "sha256:<hex>" of the file's bytes


class PlanInputs(Frozen):
    """The inputs of a saved plan (the `inputs` object of plan.json)."""

    config: str  # relative to the plan file's directory (POSIX), or absolute
    var_files: tuple[VarFile, ...] = ()
    variables: dict[str, str] = Field(default_factory=dict)  # --var name → salted digest of its value
    stack: str | None = None  # --stack as given to plan
    targets: tuple[str, ...] = ()  # --target as given to plan
    replace: tuple[str, ...] = ()  # --replace as given to plan: `apply plan.json` plans again with them
    rotate: tuple[str, ...] = ()  # --rotate as given to plan (api_key.NAME): likewise
    flags: tuple[str, ...] = ()  # gate flags given to plan (display: apply takes flags from its own command line)


def file_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def var_digest(stack: str, name: str, value: str) -> str:
    """`scrypt:<hex>` of one --var value, salted by stack and name (deterministic output)."""
    salt = hashlib.sha256(b"metorial-apply/var\0" + stack.encode() + b"\0" + name.encode()).digest()[:16]
    raw = hashlib.scrypt(value.encode(), salt=salt, n=VAR_N, r=VAR_R, p=VAR_P, dklen=16, maxmem=2**26)
    return "scrypt:" + raw.hex()


def portable(path: PurePath, base: PurePath, what: str = "input", anchor: PurePath | None = None) -> str:
    """`path` (absolute) relative to `base` (absolute), POSIX separators; a path outside `base`
    cannot be recorded (apply would have to be told to read outside the plan's directory),
    unless both lie inside `anchor`, the root of the workspace holding the plan: then `..`
    steps lead from the plan's directory to it (`--out-dir plans` beside `stacks/`)."""
    try:
        return PurePosixPath(*path.relative_to(base).parts).as_posix() or "."
    except ValueError:
        if anchor is not None and path.is_relative_to(anchor) and base.is_relative_to(anchor):
            return PurePosixPath(*PurePath(os.path.relpath(path, base)).parts).as_posix()
        raise PlanError(f"the {what} {path} is not inside {base}, the directory of the plan file: write --out "
                        "into a directory that holds the configuration and var files") from None


def recorded_path(text: str, base: PurePath, what: str, anchor: PurePath | None = None) -> PurePath:
    """A path from the file, resolved against the plan's directory: relative, and never climbing
    out of it, or, for a plan inside a workspace (`anchor`, its root), out of the workspace (the
    file is untrusted: it may not point apply anywhere else)."""
    path = PurePosixPath(text)
    refused = PlanError(f"the saved plan names {what} {text[:200]!r} outside its own directory; refusing it. "
                        "Plan again")
    if path.is_absolute() or PurePath(text).is_absolute() or "\\" in text:
        raise refused
    if ".." not in path.parts:
        return base / PurePath(*path.parts)
    resolved = PurePath(os.path.normpath(base / PurePath(*path.parts)))
    if anchor is None or not resolved.is_relative_to(anchor):
        raise refused
    return resolved


def check_variables(inputs: PlanInputs, stack: str, given: Mapping[str, str]) -> None:
    """The --var names must be the plan's, each with the value the plan was made with."""
    missing = sorted(inputs.variables.keys() - given.keys())
    if missing:
        raise StalePlanError([], f"the saved plan was made with --var {', '.join(missing)}; pass "
                                 + " ".join(f"--var {n}=…" for n in missing) + " again (values are never saved)")
    extra = sorted(given.keys() - inputs.variables.keys())
    if extra:
        raise StalePlanError([], f"--var {', '.join(extra)} was not given when the plan was made; plan again with it")
    for name in sorted(given):
        if not hmac.compare_digest(var_digest(stack, name, given[name]), inputs.variables[name]):
            raise StalePlanError([], f"--var {name} differs from the value the plan was made with; "
                                     "pass the same value, or plan again")


def check_var_file(entry: VarFile, data: bytes | None, where: str) -> None:
    """A var file the plan was made with must exist and hold the same bytes."""
    if data is None:
        raise StalePlanError([], f"the saved plan's var file {entry.path} is missing (looked for {where})")
    if not hmac.compare_digest(file_digest(data), entry.digest):
        raise StalePlanError([], f"the var file {entry.path} changed since the plan was made ({where}); plan again")


def check_stack_flag(inputs: PlanInputs, stack: str | None) -> None:
    """The stack is never taken from the file; a plan made with --stack needs the same --stack."""
    if inputs.stack and stack is None:
        raise StalePlanError([], f"the saved plan was made with --stack {inputs.stack}; pass --stack {inputs.stack} "
                                 "(the stack comes from the configuration or --stack, never from the plan file)")
    if stack is not None and inputs.stack is not None and stack != inputs.stack:
        raise StalePlanError([], f"the saved plan is for stack {inputs.stack!r}, not {stack!r} (--stack); "
                                 "plan again for that stack")
