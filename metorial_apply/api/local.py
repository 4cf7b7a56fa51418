"""`--api-url local`: the emulator in-process, through httpx's ASGI transport, its SQLite
file kept private beside the configuration."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx

from metorial_apply.core.errors import UsageError

LOCAL_BASE_URL = "http://emulator.local"


def local_transport(
    state_dir: Path | None, api_key: str | None, transport: httpx.AsyncBaseTransport | None
) -> tuple[httpx.AsyncBaseTransport, str, str, Callable[[], None] | None]:
    """The in-process emulator: imported lazily, since only `local` needs it."""
    from metorial_apply import emulator

    if transport is not None:
        return transport, api_key or emulator.DEFAULT_SECRET_KEY, LOCAL_BASE_URL, None
    try:
        db_path = str(private_database(state_dir)) if state_dir is not None else None
    except OSError as exc:
        raise UsageError(f"cannot prepare the local state directory {state_dir}: {exc.strerror}") from None
    app = emulator.create_app(emulator.EmulatorSettings(db_path=db_path))
    close = emulator.emulator_of(app).close
    return emulator.asgi_transport(app), api_key or emulator.DEFAULT_SECRET_KEY, LOCAL_BASE_URL, close


def local_key_transport(
    api: str, state_dir: Path | None, transport: httpx.AsyncBaseTransport | None
) -> tuple[httpx.AsyncBaseTransport, dict[str, str], Callable[[], None] | None]:
    """A key backend's `url: local`: its emulator in-process (state in `<api>-emulator.sqlite3`
    beside the Metorial emulator's), and the bootstrap credentials that emulator accepts."""
    from metorial_apply import emulator
    from metorial_apply.emulator import keys

    credentials = keys.bootstrap_credentials(api)
    if transport is not None:
        return transport, credentials, None
    try:
        if state_dir is not None:
            private_database(state_dir, f"{api}-emulator.sqlite3")
    except OSError as exc:
        raise UsageError(f"cannot prepare the local state directory {state_dir}: {exc.strerror}") from None
    app = keys.local_key_app(api, state_dir)
    return emulator.asgi_transport(app), credentials, keys.key_emulator_of(app).close


def private_database(state_dir: Path, name: str = "emulator.sqlite3") -> Path:
    """A local emulator's SQLite file, which holds secret values in clear: in a 0700 directory
    that git ignores, created 0600 before SQLite opens it (its -wal and -shm files copy the
    database's mode). A directory left by an older version is tightened the same way."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    ignore = state_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")  # everything here, this file included
    for entry in state_dir.iterdir():
        if entry.is_file() and not entry.is_symlink():
            entry.chmod(0o600)
    database = state_dir / name
    os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
    return database
