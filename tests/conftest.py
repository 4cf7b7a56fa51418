"""Shared pytest settings and the real-HTTP emulator fixtures (see tests/emulator_server.py).

Async tests use anyio's plugin: mark them `@pytest.mark.anyio`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from metorial_apply.emulator import EmulatorSettings
from tests.emulator_server import EmulatorProcess, EmulatorThread


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def _live_server_for_module() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorSettings(seed=7)) as server:
        yield server


@pytest.fixture
def live_server(_live_server_for_module: EmulatorThread) -> EmulatorThread:
    """An emulator over real HTTP in a thread: started once per module (it costs a uvicorn
    start-up), reset before each test so none sees another's objects or counters."""
    _live_server_for_module.reset()
    return _live_server_for_module


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """A real `emulator serve` process with its own SQLite file, for the CLI as users run it."""
    with EmulatorProcess.start(tmp_path / "emulator.sqlite3") as server:
        yield server
