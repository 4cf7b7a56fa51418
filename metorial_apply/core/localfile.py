"""Reading a local file the way untrusted input must be read: a regular file only (a FIFO would
hang the run, `/dev/zero` would fill memory), at most `cap` bytes. Every file the tool reads goes
through here: YAML, var files, `${file:}` secrets and saved plans (whose recorded paths anyone
who can edit the plan file chooses)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from metorial_apply.core.errors import size_text


class FileReadError(OSError):
    """The file is not one to read: `reason` says why in words fit for an error message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_regular(path: str | Path, cap: int) -> bytes:
    """The bytes of the regular file at `path`; FileReadError when it is not a regular file or is
    larger than `cap` (OSError as usual when it cannot be opened)."""
    # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise FileReadError("is not a regular file (a device, FIFO or socket)")
        if info.st_size > cap:
            raise FileReadError(f"is larger than {size_text(cap)}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(cap + 1)
    finally:
        os.close(fd)
    if len(data) > cap:  # it grew while being read
        raise FileReadError(f"is larger than {size_text(cap)}")
    return data

