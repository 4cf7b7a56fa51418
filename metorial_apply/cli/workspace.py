"""The workspace at the edges: finding and reading `metorial-apply.yaml`, asking git what changed,
and turning a unit into the arguments of one plan (config path, var files, stack, API URL/key).

A command given a path reads no workspace file, so the workspace's models (config/workspace.py)
and git (subprocess) are imported only where one is read or asked: start-up (issue 24)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import click

from metorial_apply.config.files import WORKSPACE_FILE, config_files
from metorial_apply.config.yamlsource import MAX_YAML_BYTES
from metorial_apply.core.errors import ConfigError, Diagnostic, UsageError
from metorial_apply.core.inert import inert
from metorial_apply.core.localfile import FileReadError, read_regular
from metorial_apply.core.scrub import SECRETS

if TYPE_CHECKING:
    from metorial_apply.config.workspace import Unit, Workspace

GIT_TIMEOUT_S = 60
F = Callable[..., Any]


@dataclass(frozen=True)
class Found:
    """A workspace and the directory its paths are relative to."""

    workspace: Workspace
    root: Path

    def path_of(self, relative: str) -> Path:
        """A workspace path as the command line would name it (relative to the current directory)."""
        target = self.root / relative
        try:
            return target.relative_to(Path.cwd())
        except ValueError:
            return target


def find_workspace(explicit: Path | None = None, start: Path | None = None) -> Found | None:
    """`--workspace FILE`, else `metorial-apply.yaml` in the current directory or the nearest
    parent, stopping at the repository's top (a directory holding `.git`)."""
    if explicit is not None:
        return read_workspace(explicit)
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / WORKSPACE_FILE).is_file():
            return read_workspace(directory / WORKSPACE_FILE)
        if (directory / ".git").exists():
            return None
    return None


def read_workspace(path: Path) -> Found:
    from metorial_apply.config.workspace import parse_workspace

    display = str(path)
    try:
        text = read_regular(path, MAX_YAML_BYTES).decode("utf-8")
    except (FileReadError, OSError) as exc:
        raise ConfigError([Diagnostic(f"cannot read the workspace file: {getattr(exc, 'reason', exc)}",
                                      file=display)]) from None
    except UnicodeDecodeError:
        raise ConfigError([Diagnostic("the workspace file is not UTF-8", file=display)]) from None
    return Found(parse_workspace(text, display), path.resolve().parent)


def git(root: Path, *args: str) -> list[str]:
    """Lines of a git command's output in `root`; a failure is a UsageError with git's words."""
    import subprocess

    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise click.UsageError(f"--changed-since needs git: {type(exc).__name__}") from None
    if done.returncode != 0:
        said = inert(done.stderr.strip().splitlines()[0] if done.stderr.strip() else f"exit {done.returncode}")
        raise click.UsageError(f"--changed-since: git {args[0]} failed: {said[:300]}")
    return [line for line in done.stdout.splitlines() if line]


def changed_files(root: Path, ref: str) -> set[str]:
    """Paths (POSIX, relative to `root`) changed between `ref`'s merge base and the working
    tree: committed since, uncommitted and untracked. Renames count as both names."""
    if not ref or ref.startswith("-"):
        raise click.UsageError(f"--changed-since {ref!r}: expected a git revision (branch, tag or commit)")
    try:
        git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    except click.UsageError:
        raise click.UsageError(f"--changed-since {inert(ref)[:200]!r}: no such revision in this repository (a "
                               "shallow CI checkout needs it fetched: git fetch --depth=1 origin main)") from None
    committed = git(root, "diff", "--name-only", "--no-renames", "--relative", f"{ref}...HEAD")
    working = git(root, "diff", "--name-only", "--no-renames", "--relative", "HEAD")
    untracked = git(root, "ls-files", "--others", "--exclude-standard")
    return set(committed) | set(working) | set(untracked)


def unit_file_inputs(found: Found, unit: Unit) -> frozenset[str]:
    """Files the unit reads with `${file:}` (relative to the workspace; absolute ones, secrets
    mounted outside the repository, are not the repository's changes)."""
    from metorial_apply.config.workspace import file_inputs

    out: set[str] = set()
    try:
        yaml_files = [p for p, _ in config_files(found.root / unit.path).files]
    except ConfigError:
        yaml_files = []  # a missing stack directory is the plan's error to report
    for path in yaml_files + [found.root / v for v in unit.var_files]:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for written in file_inputs(text):
            target = Path(os.path.normpath(path.parent / os.path.expanduser(written)))
            if not Path(written).is_absolute() and target.is_relative_to(found.root):
                out.add(PurePosixPath(*target.relative_to(found.root).parts).as_posix())
    return frozenset(out)


def changed_units(found: Found, ref: str) -> tuple[Unit, ...]:
    from metorial_apply.config.workspace import is_changed

    changed = changed_files(found.root, ref)
    workspace_file = PurePosixPath(Path(found.workspace.file).name).as_posix()
    return tuple(u for u in found.workspace.units
                 if is_changed(u, changed, {u.name: unit_file_inputs(found, u)}, workspace_file))


@dataclass(frozen=True)
class Selection:
    """Which units a command runs, and whether they make one combined report."""

    found: Found
    units: tuple[Unit, ...]
    combined: bool  # --all, --changed-since or several names: one report (and comment) for all


def select(names: tuple[str, ...], every: bool, since: str | None, explicit: Path | None) -> Selection | None:
    """The units a command names, or None when it runs on a path (no workspace form used)."""
    forms = every or since or explicit
    if not forms and (not names or all(Path(n).exists() for n in names)):
        return None  # a path is a path: no workspace file is read (or may break a plan of one)
    found = find_workspace(explicit)
    if not forms:
        known = {u.name for u in found.workspace.units} | set(found.workspace.entries()) if found else set()
        if not all(n in known for n in names):
            return None
    if found is None:
        raise click.UsageError(f"no {WORKSPACE_FILE} here or in a parent directory (--all, --changed-since and stack "
                         "names need one; or give --workspace FILE)")
    if (every or since) and names:
        raise click.UsageError("give stack names, --all or --changed-since: one of them")
    if every:
        units = found.workspace.units
    elif since:
        units = changed_units(found, since)
    else:
        units = found.workspace.select(names)
    return Selection(found, units, combined=bool(every or since or len(names) > 1))


def selection_options(f: F) -> F:
    """--all, --changed-since and --workspace: the workspace forms of a command."""
    f = click.option("--workspace", "workspace_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help=f"The workspace file (default: {WORKSPACE_FILE} here or in a parent directory).")(f)
    f = click.option("--changed-since", "changed_since", metavar="REF", default=None,
                     help="Every workspace stack whose files changed since git REF (its merge base).")(f)
    return click.option("--all", "every", is_flag=True, help="Every stack of the workspace.")(f)


def config_path(where: tuple[str, ...]) -> Path:
    """The one PATH of a plan outside the workspace forms (default: the current directory)."""
    if len(where) > 1:
        raise click.UsageError(f"one PATH, or stack names of a workspace ({WORKSPACE_FILE}); got {len(where)} "
                               "arguments and no workspace stack by those names")
    path = Path(where[0] if where else ".")
    if not path.exists():
        raise click.BadParameter(f"Path {str(path)!r} does not exist (and names no workspace stack).",
                                 param_hint="'[PATH | STACK...]'")
    return path


def unit_api(unit: Unit, api_url: str, api_key: str | None) -> tuple[str, str | None]:
    """The unit's API URL and key: from the variables it names, else the command's own."""
    from metorial_apply.api.client import LOCAL, check_api_url  # the client stack only when a unit goes online

    url, key = api_url, api_key
    if unit.api_url:
        url = unit.api_url
    elif unit.api_url_env:
        url = os.environ.get(unit.api_url_env, "")
        if not url:
            raise UsageError(f"{unit.name}: {unit.api_url_env} is not set (the workspace takes its API URL from it)")
    if url != LOCAL:
        try:
            check_api_url(url)
        except UsageError as exc:
            raise UsageError(f"{unit.name}: {exc}") from None
    if unit.api_key_env:
        key = os.environ.get(unit.api_key_env) or None
        if key is None and url != LOCAL:  # the embedded emulator has its own key
            raise UsageError(f"{unit.name}: {unit.api_key_env} is not set (the workspace takes its API key from it)")
        SECRETS.add(key)
    return url, key


def unit_args(found: Found, unit: Unit, args: dict[str, Any], *, api: bool = True) -> tuple[Path, dict[str, Any]]:
    """The config path and the command's arguments for one unit (a copy: `args` is not changed)."""
    own = tuple(found.path_of(v) for v in unit.var_files)
    out = dict(args, stack=unit.stack, var_files=own + tuple(args.get("var_files") or ()))
    if api:
        out["api_url"], out["api_key"] = unit_api(unit, args["api_url"], args.get("api_key"))
    return found.path_of(unit.path), out
