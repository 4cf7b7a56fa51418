"""Which files make up a configuration, and reading the files `${file:…}` points at.

A configuration is one YAML file or a directory of `*.yaml`/`*.yml` files (recursive, sorted,
hidden files and directories skipped). `${file:path}` is relative to the YAML file that
contains it and must stay inside the configuration's directory tree, so a config reviewed in
a pull request cannot read arbitrary files through `../`; absolute paths (and `~/…`) are
allowed for secrets mounted outside the repository, e.g. `${file:/run/secrets/github_token}`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from metorial_apply.config.interpolate import InterpolationError
from metorial_apply.core.errors import ConfigError, Diagnostic
from metorial_apply.core.localfile import FileReadError, read_regular

WORKSPACE_FILE = "metorial-apply.yaml"  # the workspace file's name; what it holds: config/workspace.py

YAML_SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 1 << 20  # a ${file:} secret larger than 1 MiB is a mistake (or /dev/zero)


@dataclass(frozen=True)
class ConfigFiles:
    """The root directory of a configuration and its YAML files (real path, display name)."""

    root: Path
    files: tuple[tuple[Path, str], ...]

    def displays(self) -> list[str]:
        return [display for _, display in self.files]


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def config_files(path: Path) -> ConfigFiles:
    """The YAML files of a configuration at `path` (a file or a directory)."""
    if path.is_file():
        _refuse_saved_plan(path)
        return ConfigFiles(root=path.resolve().parent, files=((path, str(path)),))
    if not path.exists():
        raise ConfigError([Diagnostic("no such file or directory", file=str(path),
                                      hint="pass a YAML file or a directory of *.yaml files")])
    if not path.is_dir():
        raise ConfigError([Diagnostic("not a regular file or directory", file=str(path))])
    found = sorted(
        p.relative_to(path) for p in path.rglob("*")
        if p.suffix in YAML_SUFFIXES and p.is_file() and not _hidden(p.relative_to(path))
    )
    if not found:
        raise ConfigError([Diagnostic("no *.yaml or *.yml files in this directory", file=str(path))])
    return ConfigFiles(root=path.resolve(), files=tuple((path / rel, str(path / rel)) for rel in found))


def _refuse_saved_plan(path: Path) -> None:
    """A saved plan given where a configuration belongs gets one clear error, not a list of
    unknown top-level keys: saved plans are JSON objects with these keys (docs/plan-json.md)."""
    with path.open("rb") as f:
        if not f.read(64).lstrip().startswith(b"{"):
            return
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, RecursionError):
        return  # not JSON after all: the YAML reader reports what is wrong with it
    if isinstance(data, dict) and {"format_version", "changes", "stack"} <= data.keys():
        raise ConfigError([Diagnostic(
            "this is a saved plan, not a configuration", file=str(path),
            hint=f"apply it with `metorial-apply apply {path}`; plan and validate take the YAML it came from")])


def _inside(child: Path, root: Path) -> bool:
    try:
        child.relative_to(root)
    except ValueError:
        return False
    return True


def file_reader(yaml_file: Path, root: Path) -> Callable[[str], str]:
    """A `read_file` for interpolation.Sources, resolving paths relative to `yaml_file`."""

    def read(written: str) -> str:
        expanded = Path(os.path.expanduser(written))
        target = (expanded if expanded.is_absolute() else yaml_file.resolve().parent / expanded).resolve()
        if not expanded.is_absolute() and not _inside(target, root):
            raise InterpolationError(f"${{file:{written}}} points outside the configuration directory",
                                     "use a path inside the config directory, or an absolute path")
        return _read_text(target, written)

    return read


def _read_text(target: Path, written: str) -> str:
    try:
        raw = read_regular(target, MAX_FILE_BYTES)
    except IsADirectoryError:
        raise InterpolationError(f"${{file:{written}}} is a directory") from None
    except FileReadError as exc:
        raise InterpolationError(f"${{file:{written}}} {exc.reason}") from None
    except OSError as exc:
        missing = isinstance(exc, FileNotFoundError)
        reason = "no such file" if missing else (exc.strerror or "cannot read it")
        raise InterpolationError(f"${{file:{written}}}: {reason}", absent=missing) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InterpolationError(f"${{file:{written}}} is not UTF-8 text") from None
    return text.rstrip("\r\n")
