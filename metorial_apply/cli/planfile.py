"""Saved-plan files on disk: what `plan --out` records of its inputs, and how `apply plan.json`
finds them again from any directory (metorial_apply.planning.inputs holds the rules)."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from metorial_apply.cli.options import gate_flags, rotate_name
from metorial_apply.cli.workspace import find_workspace
from metorial_apply.config.yamlsource import MAX_YAML_BYTES
from metorial_apply.core.errors import PlanError, UsageError
from metorial_apply.core.fingerprint import FingerprintKey
from metorial_apply.core.localfile import FileReadError, read_regular
from metorial_apply.core.model import Address
from metorial_apply.planning.inputs import (
    PlanInputs,
    VarFile,
    check_stack_flag,
    check_var_file,
    check_variables,
    file_digest,
    portable,
    recorded_path,
    var_digest,
)
from metorial_apply.planning.plan import Plan
from metorial_apply.planning.saved import load_saved_plan

MAX_PLAN_BYTES = 256 << 20  # a saved plan of 10,000 changes is a few MiB


def _read(path: Path) -> bytes | None:
    """A var file's bytes; None when it is missing, unreadable, not a regular file or too large."""
    try:
        return read_regular(path, MAX_YAML_BYTES)  # a var file is YAML, read again later by the config loader
    except OSError:
        return None


def workspace_root(directory: Path) -> Path | None:
    """The root of the workspace (metorial-apply.yaml) holding `directory`, if any: saved plans
    inside it may name inputs anywhere in it."""
    found = find_workspace(start=directory)
    return found.root if found else None


def inputs_for(plan: Plan, out: Path, config_path: Path, args: dict[str, Any]) -> PlanInputs:
    """What `plan --out` records: paths relative to the plan file's directory when below it."""
    base = out.resolve().parent
    anchor = workspace_root(base)
    files = []
    for var_file in args["var_files"]:
        data = _read(Path(var_file))
        if data is None:
            raise UsageError(f"cannot read var file {var_file}")
        files.append(VarFile(path=portable(Path(var_file).resolve(), base, "var file", anchor),
                             digest=file_digest(data)))
    return PlanInputs(
        config=portable(config_path.resolve(), base, "configuration", anchor), var_files=tuple(files),
        variables={n: var_digest(plan.stack, n, v) for n, v in sorted(args["variables"].items())},
        stack=args["stack"], targets=tuple(str(t) for t in args["targets"]), flags=gate_flags(args),
        replace=tuple(str(a) for a in args.get("replace", ())), rotate=tuple(sorted(args.get("rotate") or ())),
    )


def apply_flags(inputs: PlanInputs | None, args: dict[str, Any] | None = None) -> tuple[str, ...]:
    """The flags `apply` needs for the plan shown: a saved plan's --stack, --replace, --rotate and
    --var names (the file never holds a --var value) and the gate flags plan was given."""
    if inputs is None:
        return given_flags(args or {})
    flags = repeated("--stack", [inputs.stack] if inputs.stack else [])
    flags += repeated("--replace", sorted(inputs.replace))  # repeated, or the file could have
    flags += repeated("--rotate", sorted(inputs.rotate))  # added them (see `confirmed`)
    return (*flags, *repeated("--var", sorted(inputs.variables), "=…"), *inputs.flags)


def given_flags(given: dict[str, Any]) -> tuple[str, ...]:
    """A fresh plan's inputs as `apply` flags: the same stack, var files, --var names (never their
    values), targets, replacements, rotations and gates, or apply would plan something else."""
    flags = repeated("--stack", [given["stack"]] if given.get("stack") else [])
    flags += repeated("--var-file", given.get("var_files", ()))
    flags += repeated("--var", sorted(given.get("variables") or {}), "=…")
    flags += repeated("--target", given.get("targets", ()))
    flags += repeated("--replace", given.get("replace", ()))
    flags += repeated("--rotate", sorted(given.get("rotate") or ()))
    return (*flags, *gate_flags(given))


def repeated(option: str, values: Iterable[object], tail: str = "") -> list[str]:
    """`option` once per value, each shell-quoted (`tail` after it: `=…` in place of a --var value)."""
    return [f"{option} {shlex.quote(str(v))}{tail}" for v in values]


def recorded_replace(inputs: PlanInputs) -> tuple[Address, ...]:
    """The saved plan's --replace addresses, which `apply plan.json` plans again with (the plan
    built again must still equal the file change for change)."""
    try:
        return tuple(Address.parse(a) for a in inputs.replace)
    except ValueError:
        raise PlanError("the saved plan's --replace is malformed; plan again") from None


def recorded_rotate(inputs: PlanInputs) -> tuple[str, ...]:
    """The saved plan's --rotate addresses (api_key.NAME), which `apply plan.json` plans again with
    (checked as `--rotate` is; a name the configuration lacks is the key planner's error)."""
    if any(rotate_name(text) is None for text in inputs.rotate):
        raise PlanError("the saved plan's --rotate is malformed; plan again")
    return inputs.rotate


def read_plan_file(path: Path, key: FingerprintKey | None) -> Plan:
    try:
        return load_saved_plan(read_regular(path, MAX_PLAN_BYTES).decode("utf-8"), key)
    except FileReadError as exc:
        raise UsageError(f"saved plan {path} {exc.reason}") from None
    except OSError as exc:
        raise UsageError(f"cannot read saved plan {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PlanError(f"saved plan {path} is not UTF-8 text; plan again") from None


def confirmed(recorded: tuple[Any, ...], given: tuple[Any, ...], flag: str, keyed: bool) -> tuple[Any, ...]:
    """A saved plan's destructive --replace/--rotate, honoured only when the apply command line
    repeats it, or when the plan's checksum is keyed (then only the key's holder could have
    written it); a flag the plan does not carry is refused too."""
    want, have = sorted(map(str, recorded)), sorted(map(str, given))
    if have and have != want:
        raise UsageError(f"{flag} on the apply command line must repeat the saved plan's {flag} exactly "
                         f"({', '.join(want) or 'none'}); plan again to change it")
    if want and not have and not keyed:
        shown = " ".join(f"{flag} {shlex.quote(a)}" for a in want)
        raise UsageError(f"the saved plan asks for {shown}, which an edit of the file could have added: repeat it "
                         "on the apply command line (or key plan checksums with METORIAL_APPLY_FINGERPRINT_KEY)")
    return recorded


def _config_here(saved: Plan) -> Path:
    if not saved.config_path:
        raise PlanError("the saved plan does not say which configuration it came from; plan again")
    config_path = Path(saved.config_path)
    if not config_path.exists():
        raise PlanError(f"the saved plan's configuration {config_path} does not exist here; run apply where plan "
                        "ran (a plan saved with --out records its inputs and applies from anywhere)")
    return config_path


def read_saved(path: Path, args: dict[str, Any]) -> tuple[Plan, Path]:
    """The saved plan and its configuration, with its var files set in `args`; refuses, naming
    the thing, when a var file is missing or changed, a --var differs or --stack differs."""
    saved = read_plan_file(path, args.get("fingerprint_key"))
    inputs = saved.inputs
    if inputs is None:  # `plan --json > plan.json`: no file path to be relative to; apply where plan ran
        return saved, _config_here(saved)
    if args["var_files"] or args["targets"]:
        raise UsageError("a saved plan carries its own var files and targets: give apply the plan file alone")
    check_stack_flag(inputs, args["stack"])
    keyed = args.get("fingerprint_key") is not None
    args["replace"] = confirmed(recorded_replace(inputs), tuple(args.get("replace") or ()), "--replace", keyed)
    args["rotate"] = confirmed(recorded_rotate(inputs), tuple(args.get("rotate") or ()), "--rotate", keyed)
    base = Path(path).resolve().parent
    anchor = workspace_root(base)
    config = Path(recorded_path(inputs.config, base, "configuration", anchor))
    if not config.exists():
        raise PlanError(f"the saved plan's configuration {inputs.config} does not exist (looked for {config})")
    var_files = []
    for entry in inputs.var_files:
        where = Path(recorded_path(entry.path, base, "var file", anchor))
        check_var_file(entry, _read(where), str(where))
        var_files.append(where)
    check_variables(inputs, saved.stack, args["variables"])
    args["var_files"] = tuple(var_files)
    return saved, config
