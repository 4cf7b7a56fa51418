"""Real-HTTP emulators for tests, each on a free 127.0.0.1 port and always stopped.

- `EmulatorThread`: uvicorn in a daemon thread of the test process, so a test can also reach
  the app in-process (`.emulator`) or wrap it (`wrap=`) to fake what the server cannot do.
- `EmulatorProcess`: a real `emulator serve` child with its own SQLite file, for the CLI run as
  users run it; it dies with the test run. It is metorial_apply/emulator/process.py's, which
  the benchmarks use too, so tests and benchmarks start, wait for and stop emulators one way.

The fixtures (`live_server`, `emulator`) are in tests/conftest.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from metorial_apply.emulator import Emulator, EmulatorSettings, emulator_of
from metorial_apply.emulator.process import HOST, SECRET_KEY, EmulatorAdmin, EmulatorProcess, child_env, free_port
from metorial_apply.emulator.serve import build_server

__all__ = ["SECRET_KEY", "EmulatorProcess", "EmulatorThread", "child_env"]

START_TIMEOUT_S = 10.0

App = Callable[..., Any]  # an ASGI application


class EmulatorThread(EmulatorAdmin):
    """The emulator served by uvicorn in a daemon thread; a context manager that starts and stops it."""

    def __init__(self, settings: EmulatorSettings | None = None, wrap: Callable[[App], App] | None = None) -> None:
        port = free_port()
        super().__init__(f"http://{HOST}:{port}")
        self.server = build_server(settings or EmulatorSettings(), HOST, port)
        self.app: App = self.server.config.app
        if wrap is not None:  # uvicorn loads config.app when it starts, so the wrapper is what it serves
            self.server.config.app = wrap(self.app)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def emulator(self) -> Emulator:
        """The running emulator behind the app: faults, stats, reset without HTTP."""
        return emulator_of(self.app)

    def __enter__(self) -> EmulatorThread:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"emulator on {self.url} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=START_TIMEOUT_S)


async def request_body(receive: Callable[[], Any]) -> bytes:
    """The whole body of an ASGI request, for a wrapper that looks at it before deciding."""
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def json_answer(send: Callable[[dict[str, Any]], Any], status: int, body: Any,
                      headers: list[tuple[bytes, bytes]] = []) -> None:  # noqa: B006  # never mutated
    """Answer an ASGI request with `body` as JSON."""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *headers]})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})
