"""Three real `emulator serve` processes (Metorial, Metlo, Metal) for the keys CLI tests, and the
environment a configuration's `key_backends:` reads them from."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from metorial_apply.cli import main
from metorial_apply.emulator.keys import bootstrap_credentials
from metorial_apply.emulator.process import SECRET_KEY, EmulatorProcess


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class KeyServers:
    metorial: EmulatorProcess
    metlo: EmulatorProcess
    metal: EmulatorProcess

    @property
    def env(self) -> dict[str, str]:
        """What a CI job would export: the Metorial key, and each backend's URL and admin credentials."""
        metal = bootstrap_credentials("metal")
        return {"METORIAL_API_KEY": SECRET_KEY, "METLO_URL": self.metlo.url,
                "METLO_ADMIN_KEY": bootstrap_credentials("metlo")["api_key"], "METAL_URL": self.metal.url,
                "METAL_CLIENT_ID": metal["client_id"], "METAL_API_KEY": metal["api_key"],
                "METORIAL_APPLY_KEY_URL_VARS": "METLO_URL,METAL_URL"}


@pytest.fixture
def key_servers(tmp_path: Path) -> Iterator[KeyServers]:
    """Started together, stopped together (even when a start fails half-way)."""
    started: list[EmulatorProcess] = []
    try:
        for api in ("metorial", "metlo", "metal"):
            started.append(EmulatorProcess.start(tmp_path / f"{api}.sqlite3", api=api))
        yield KeyServers(*started)
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Call `metorial_apply.cli.main(argv)` in-process: exit code, stdout and stderr."""

    def run(*argv: str) -> Run:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main(list(argv))
        captured = capsys.readouterr()
        return Run(exc.value.code if isinstance(exc.value.code, int) else 1, captured.out, captured.err)

    return run


@contextmanager
def serve_handler(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A stdlib HTTP server on 127.0.0.1 answering with `handler`, in a daemon thread; its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # type: ignore[method-assign]  # the client hung up
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
