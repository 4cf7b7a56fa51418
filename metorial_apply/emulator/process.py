"""The emulator as a child process on a free 127.0.0.1 port, and its admin routes.

For scripts that test against a real-HTTP emulator (our tests and benchmarks, and users'
pipelines): pick a port, start `python -m metorial_apply.emulator serve --port P --db DB
[flags]`, wait until it answers, stop it (terminate, then kill), and reach `/_emulator/*`
(stats, faults, objects, reset; api_keys and authenticate for the key emulators, `api="metlo"` or
`"metal"`). On Linux the child dies with its parent, so an interrupted run leaks no server. Its
stderr goes to DB.log, quoted if it fails to start.

    with EmulatorProcess.start(tmp / "bench.sqlite3", "--latency-ms", "50") as server:
        ...  # server.url, server.stats(), server.faults(latency_ms=0), server.reset()
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .settings import DEFAULT_SECRET_KEY

# The directory holding the `metorial_apply` package this module belongs to: the child gets
# it first on its path, so it runs the same code as its parent, not another installed copy.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]

HOST = "127.0.0.1"
SECRET_KEY = DEFAULT_SECRET_KEY  # the key `emulator serve` accepts when given none
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for our child processes: no METORIAL_* of the caller's, this package importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METORIAL_")}
    env["PYTHONPATH"] = str(PACKAGE_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env | (extra or {})


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies, so a killed run leaks no server."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class EmulatorAdmin:
    """The admin routes (`/_emulator/...`) of an emulator at `url`: loopback callers need no key."""

    def __init__(self, url: str) -> None:
        self.url = url

    def admin(self, method: str, path: str, *, timeout: float = 10.0, **kw: Any) -> Any:
        response = httpx.request(method, f"{self.url}/_emulator{path}", timeout=timeout, **kw)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        return self.admin("GET", "/stats")

    def objects(self, stack: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Every object of `stack` (all stacks if None), archived ones too unless `status` says."""
        params = {"metadata[metorial-apply/stack]": stack} if stack else {}
        if status:
            params["status"] = status
        return self.admin("GET", "/objects", params=params)["items"]

    def faults(self, **settings: Any) -> None:
        """Change fault settings, e.g. `faults(latency_ms=0)` while seeding."""
        self.admin("PUT", "/faults", json=settings)

    def reset(self) -> None:
        """Wipe managed objects and counters (the catalog and default deployments stay)."""
        self.admin("POST", "/reset", timeout=30.0)

    def api_keys(self) -> list[dict[str, Any]]:
        """A key emulator's keys (names and identities, never secrets), deleted ones in their window too."""
        return self.admin("GET", "/keys")["items"]

    def authenticate(self, api_key: str, client_id: str | None = None) -> bool:
        """Whether a key emulator would accept these credentials right now."""
        body = {"api_key": api_key} | ({"client_id": client_id} if client_id is not None else {})
        return bool(self.admin("POST", "/authenticate", json=body)["ok"])


class EmulatorProcess(EmulatorAdmin):
    """A running `emulator serve` child process; a context manager that stops it."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        super().__init__(url)
        self.process, self.log = process, log

    @classmethod
    def start(cls, db: Path, *flags: str, timeout_s: float = 20.0, api: str = "metorial") -> EmulatorProcess:
        """Serve `db` (SQLite, created if missing) with extra `serve` flags; return once it answers.
        `api`: metorial, or the metlo / metal key emulator."""
        port = free_port()
        cmd = [sys.executable, "-m", "metorial_apply.emulator", "serve", "--port", str(port), "--db", str(db),
               "--api", api, *flags]
        log = db.with_name(db.name + ".log")
        with log.open("wb") as stderr:  # the child keeps its own handle
            process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr, env=child_env(),
                                       preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        server = cls(process, f"http://{HOST}:{port}", log)
        server.wait_ready(timeout_s)
        return server

    def wait_ready(self, timeout_s: float) -> None:
        """Poll the stats route until it answers; stop the child and raise if it exits or times out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.process.returncode}: {self._log_tail()}")
            try:
                self.admin("GET", "/stats", timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"emulator did not start within {timeout_s:.0f} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_S."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
