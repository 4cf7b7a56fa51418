"""`--secrets-out FILE`: one-time key secrets written to a dotenv file (mode 0600), for keys no
Metorial object consumes.

The file is created, exclusively, before the first key is: an existing file (or a symlink) is an
error up front, never overwritten, so no key is ever created without a place for its secret.
Each key's lines are written and synced as soon as its create answered, so a run stopped later
still leaves every secret it made.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from metorial_apply.core.errors import UsageError
from metorial_apply.core.keys import KEY_PARTS, CreatedKey

VARIABLE = re.compile(r"[A-Z_][A-Z0-9_]*")
SHOWN = 120  # characters of a server-supplied name a comment line keeps
HEADER = "# One-time API key secrets written by metorial-apply. Keep this file private; delete it once stored.\n"
_PLAIN = re.compile(r"[A-Za-z0-9_.\-+/=:@]*")


def variable_names(key: str, backend_type: str) -> dict[str, str]:
    """`metal-sync` on Metal → {"secret": "METAL_SYNC_SECRET", "client_id": "METAL_SYNC_CLIENT_ID", …}."""
    stem = re.sub(r"[^A-Za-z0-9]", "_", key).upper()
    stem = stem if not stem[:1].isdigit() else "_" + stem
    return {part: f"{stem}_{part.upper()}" for part in KEY_PARTS[backend_type]}


def dotenv_line(name: str, value: str) -> str:
    """`NAME=value`, single-quoted unless plain (safe for dotenv readers and POSIX shells alike); a
    name that is not a plain variable, or a value no dotenv reader could take back, is refused."""
    if not VARIABLE.fullmatch(name):
        raise UsageError(f"--secrets-out: {name[:SHOWN]!r} is not a variable name ([A-Z_][A-Z0-9_]*)")
    if _PLAIN.fullmatch(value):
        return f"{name}={value}\n"
    if "'" in value or "\n" in value or "\r" in value:
        raise UsageError(f"the value of {name} cannot be written to a dotenv file (a quote or a line break)")
    return f"{name}='{value}'\n"


def comment_text(text: str) -> str:
    """A server-supplied string for a comment line: JSON-escaped (no line break, no control
    character survives to start a line of its own when the file is sourced) and cut short."""
    return json.dumps(text[:SHOWN], ensure_ascii=True)[1:-1]


def check_names(keys: Sequence[tuple[str, str]]) -> None:
    """Before anything is created: two keys (name, backend type) must not write the same variable."""
    seen: dict[str, str] = {}
    for key, backend_type in sorted(keys):
        for var in variable_names(key, backend_type).values():
            if var in seen:
                raise UsageError(f"--secrets-out: api_key.{seen[var]} and api_key.{key} would both write {var}")
            seen[var] = key


class SecretsOut:
    """The open --secrets-out file. `open()` before any key is created; `add()` per created key."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd
        self.names: set[str] = set()

    def __repr__(self) -> str:
        return f"SecretsOut({str(self.path)!r})"

    @classmethod
    def open(cls, path: Path, keys: Sequence[tuple[str, str]] = ()) -> SecretsOut:
        """Create the file 0600, exclusively; UsageError when it exists (or is a symlink) or when two
        of `keys` (name, backend type) would write the same variable."""
        check_names(keys)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            raise UsageError(f"--secrets-out {path}: the file exists; it is never overwritten — move it away "
                             "(after storing the secrets it holds) or name another file") from None
        except OSError as exc:
            raise UsageError(f"--secrets-out {path}: cannot create it: {exc.strerror}") from None
        out = cls(path, fd)
        out._write(HEADER)
        return out

    def add(self, key: str, backend_type: str, created: CreatedKey) -> None:
        """Write one key's parts and sync them to disk."""
        parts = created.parts()
        names = variable_names(key, backend_type)
        taken = self.names & set(names.values())
        if taken:
            raise UsageError(f"--secrets-out: two keys would both write {sorted(taken)[0]}")
        self._write(f"# api_key.{key} ({comment_text(created.key.name)})\n"
                    + "".join(dotenv_line(var, parts[part]) for part, var in names.items()))
        self.names |= set(names.values())

    def _write(self, text: str) -> None:
        data = text.encode("utf-8")
        while data:
            data = data[os.write(self._fd, data):]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> SecretsOut:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
