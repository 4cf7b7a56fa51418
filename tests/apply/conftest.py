"""Integration fixtures: a real `emulator serve` subprocess on a free 127.0.0.1 port, and a
runner for the real CLI entry point (`metorial_apply.cli.main`) against it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
SECRET_KEY = "metorial_sk_local_emulator_secret_key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Emulator:
    url: str
    process: subprocess.Popen[bytes]

    def admin(self, method: str, path: str, **kw: Any) -> Any:
        response = httpx.request(method, f"{self.url}/_emulator{path}", timeout=10, **kw)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        return self.admin("GET", "/stats")

    def objects(self, stack: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        params = {"metadata[metorial-apply/stack]": stack} if stack else {}
        if status:
            params["status"] = status
        return self.admin("GET", "/objects", params=params)["items"]

    def faults(self, **settings: Any) -> None:
        self.admin("PUT", "/faults", json=settings)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def env_for(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METORIAL_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env | (extra or {})


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, so a killed test run leaks no server."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_emulator(db: Path, *flags: str) -> Emulator:
    port = free_port()
    cmd = [sys.executable, "-m", "metorial_apply.emulator", "serve", "--port", str(port), "--db", str(db), *flags]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env_for(),
                               preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    emulator = Emulator(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited with {process.returncode}")
        try:
            emulator.stats()
            return emulator
        except httpx.HTTPError:
            time.sleep(0.05)
    emulator.stop()
    raise RuntimeError("emulator did not start within 20 s")


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    server = start_emulator(tmp_path / "emulator.sqlite3")
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
    """Run `metorial_apply.cli.main` in-process (its error mapping included), capturing output."""
    from metorial_apply.cli import main

    runner = CliRunner()
    base = {"CI": "1", "NO_COLOR": "1"} | (env or {})
    old = Path.cwd()
    with runner.isolation(env=base) as (out, err, _):
        try:
            if cwd:
                os.chdir(cwd)
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            os.chdir(old)
        return Result(code, out.getvalue().decode(), err.getvalue().decode())


def copy_example(name: str, dest: Path) -> Path:
    target = dest / name.replace("/", "_")
    shutil.copytree(REPO / "examples" / name, target)
    return target
