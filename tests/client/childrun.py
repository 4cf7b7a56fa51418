"""`python -m metorial_apply …` as a child process, for the no-hang/no-blow-up tests: its exit
code, stderr, wall time and its own peak memory (from wait4), killed if it outlives a deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from metorial_apply.api.retry import RetryPolicy
from metorial_apply.emulator.process import child_env

REPO = Path(__file__).resolve().parents[2]
STARTUP_S = 8.0  # a Python child importing the CLI on a loaded 2-core machine
# Backoff between attempts is at most its ceiling: base·2ⁿ⁻¹ for n = 1 … attempts - 1.
POLICY = RetryPolicy()
BACKOFF_S = sum(min(POLICY.max_delay_s, POLICY.base_delay_s * 2 ** n) for n in range(POLICY.max_attempts - 1))


@dataclass
class Run:
    code: int
    err: str
    seconds: float
    max_rss: int  # bytes


# wait4's peak memory of a child counts what its parent had when it forked (Linux keeps the
# pre-exec high-water mark): a child of a large pytest worker would "use" the worker's memory.
# So the CLI runs as the child of this small launcher, which reports that child's own peak.
LAUNCHER = """import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def cli_child(args: list[str], tmp: Path, env: dict[str, str], *, kill_after_s: float = 60.0) -> Run:
    """`python -m metorial_apply <args>` as a child, with `env` over a clean environment (no
    METORIAL_* of the caller's: default settings); its own max RSS from wait4 (not every child's)."""
    peak = tmp / "max_rss_kib"
    started = time.monotonic()
    with open(tmp / "stderr", "w+b") as err:
        cli = [sys.executable, "-m", "metorial_apply", *args]
        child = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(peak), *cli], cwd=REPO, env=child_env(env),
                                 stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        reap(child, started + kill_after_s)
        seconds = time.monotonic() - started
        err.seek(0)
        text = err.read().decode()
    max_rss = int(peak.read_text()) * 1024
    assert max_rss > 20 * 1024 * 1024, max_rss  # the CLI's own peak (it imports httpx, pydantic, …), not 0
    return Run(child.returncode, text, seconds, max_rss)


def reap(child: subprocess.Popen[bytes], kill_at: float) -> None:
    """Wait for `child`, killing its whole process group at `kill_at`: a safety net for a
    regression, so a hang fails the test instead of the suite."""
    while child.poll() is None:
        if time.monotonic() > kill_at:
            os.killpg(child.pid, signal.SIGKILL)
        time.sleep(0.05)


def one_error_line(run: Run) -> str:
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    assert lines[0].startswith("Error: ") and "Traceback" not in run.err
    return lines[0]
