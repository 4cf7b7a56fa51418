"""A real `python -m metorial_apply apply` process killed (SIGKILL) or interrupted (SIGINT,
SIGTERM) mid-run: nothing is lost or duplicated, and a re-run converges."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apply.conftest import run_cli
from tests.apply.test_faults import big_stack, expected_addresses
from tests.emulator_server import SECRET_KEY, EmulatorProcess, child_env

GROUPS = 25  # 100 resources


def start_apply(path: Path, server: EmulatorProcess, *extra: str) -> subprocess.Popen[str]:
    env = child_env({"CI": "1", "NO_COLOR": "1", "METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY,
                     "METORIAL_APPLY_LOCK_SKEW": "0"})  # one emulator, one clock
    cmd = [sys.executable, "-m", "metorial_apply", "apply", str(path), "--auto-approve", "--parallelism", "4", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_objects(
    server: EmulatorProcess, stack: str, at_least: int, process: subprocess.Popen[str], timeout: float = 30
) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = len(server.objects(stack, status="active"))
        if count >= at_least:
            return count
        assert process.poll() is None, "apply finished before it could be interrupted"
        time.sleep(0.02)
    raise AssertionError(f"fewer than {at_least} objects after {timeout} s")


def assert_converged(path: Path, server: EmulatorProcess, stack: str) -> None:
    env = {"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY}
    # A killed run's stack lock outlives it until its TTL: wait for it (tests/apply/test_lock.py).
    again = run_cli(["apply", str(path), "--auto-approve", "--lock-timeout", "30"], env=env)
    assert again.code == 0, again.out[-2000:] + again.err
    active = Counter(o["metadata"]["metorial-apply/address"] for o in server.objects(stack, status="active"))
    assert set(active) == expected_addresses(GROUPS)
    assert max(active.values()) == 1, [a for a, n in active.items() if n > 1]
    plan = run_cli(["plan", str(path), "--detailed-exitcode"], env=env)
    assert plan.code == 0, plan.out[-2000:]


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[EmulatorProcess]:
    with EmulatorProcess.start(tmp_path / "db.sqlite3", "--latency-ms", "40") as server:
        yield server


@pytest.mark.slow
def test_sigkill_mid_run_loses_nothing_and_rerun_converges(tmp_path: Path, slow_server: EmulatorProcess) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack(GROUPS, stack="killed"))
    process = start_apply(path, slow_server, "--lock-ttl", "4")
    try:
        landed = wait_for_objects(slow_server, "killed", 15, process)
        process.kill()
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    assert landed < 4 * GROUPS  # it really was mid-run
    assert_converged(path, slow_server, "killed")


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_scheduling_reports_and_rerun_converges(
    tmp_path: Path, slow_server: EmulatorProcess, sig: int, code: int
) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack(GROUPS, stack="stopped"))
    journal = tmp_path / "journal.jsonl"
    process = start_apply(path, slow_server, "--journal", str(journal))
    try:
        wait_for_objects(slow_server, "stopped", 15, process)
        process.send_signal(sig)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, out[-2000:] + err
    assert "stopping — no new changes start" in out
    assert "Stopped (interrupted)" in out and "Left to do (run plan again after fixing): +" in out
    assert "Traceback" not in err
    done = out.count(" created ")
    assert 0 < done < 4 * GROUPS
    # Nothing was in flight when the process exited: every create it started, it reported.
    assert len(slow_server.objects("stopped", status="active")) == done
    assert_converged(path, slow_server, "stopped")
