"""The "yes" prompt at a real terminal (a pty): Ctrl-C there exits 130 at once and releases the
stack lock (issue 23 item 5: the process used to stay alive, lock held, until Enter), and a
person who takes longer than the lock's TTL to answer still holds the lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.apply.conftest import copy_example, run_cli
from tests.emulator_server import child_env

PROMPT = b'Only "yes" will be accepted'


def start_at_a_terminal(path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    """`apply` in a child whose stdin/stdout/stderr are a pty (so it asks), without CI set."""
    controller, terminal = os.openpty()
    env = {k: v for k, v in child_env({"NO_COLOR": "1", "METORIAL_APPLY_LOCK_SETTLE": "0"}).items() if k != "CI"}
    child = subprocess.Popen([sys.executable, "-m", "metorial_apply", "apply", str(path), "--api-url", "local",
                              *extra], stdin=terminal, stdout=terminal, stderr=terminal, env=env)
    os.close(terminal)
    return child, controller


def read_until(controller: int, marker: bytes, timeout_s: float = 60) -> bytes:
    seen, deadline = b"", time.monotonic() + timeout_s
    while marker not in seen:
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        seen += os.read(controller, 65536)
    return seen


def finish(child: subprocess.Popen[bytes], controller: int, timeout_s: float) -> tuple[int | None, bytes]:
    """The child's exit code within `timeout_s` (None if still running: then it is killed)."""
    try:
        code: int | None = child.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        code = None
    rest = b""
    try:
        while chunk := os.read(controller, 65536):
            rest += chunk
    except OSError:  # the terminal's other end is closed
        pass
    os.close(controller)
    return code, rest


def test_ctrl_c_at_the_prompt_exits_at_once_and_releases_the_lock(tmp_path: Path) -> None:
    path = copy_example("quickstart", tmp_path)
    child, controller = start_at_a_terminal(path)
    read_until(controller, PROMPT)
    child.send_signal(signal.SIGINT)
    code, rest = finish(child, controller, timeout_s=10)
    assert code == 130, rest.decode(errors="replace")
    assert b"Interrupted." in rest
    again = run_cli(["apply", str(path), "--api-url", "local", "--auto-approve"])  # --lock-timeout 0: no waiting
    assert again.code == 0, again.out + again.err


def test_an_answer_slower_than_the_lock_ttl_still_holds_the_lock(tmp_path: Path) -> None:
    path = copy_example("quickstart", tmp_path)
    child, controller = start_at_a_terminal(path, "--lock-ttl", "2")
    read_until(controller, PROMPT)
    time.sleep(4)  # two TTLs: only renewals while the prompt waits keep the lock
    os.write(controller, b"yes\n")
    code, rest = finish(child, controller, timeout_s=60)
    assert code == 0, rest.decode(errors="replace")
    assert b"4 done, 0 failed" in rest, rest.decode(errors="replace")
