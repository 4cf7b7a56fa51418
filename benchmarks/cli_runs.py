"""Generated stacks and the CLI run as a user runs it: a child `python -m metorial_apply …`
whose wall time and peak RSS (its own rusage, from wait4) are measured.

A stack of `groups` × (deployment, config, auth config, session template): the config and
the auth config values are write-only secrets, so half the resources carry a secret.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from emulator_process import SECRET_KEY, child_env  # first: it puts this checkout on sys.path

RESOURCES_PER_GROUP = 4
BENCH_KEY = "benchmark-only-fingerprint-key-0123456789"  # not a secret: only ever used on the emulator


def stack_yaml(groups: int, name: str) -> str:
    """groups × (deployment, config, auth config, session template)."""
    lines = [f"stack: {name}", "deployments:"] + [f"  d{i}: {{provider: github}}" for i in range(groups)]
    lines += ["configs:"] + [
        f"  c{i}: {{deployment: d{i}, value: {{base_url: 'https://ghe{i}.example'}}}}" for i in range(groups)
    ]
    lines += ["auth_configs:"] + [
        f"  a{i}: {{deployment: d{i}, method: token, value: {{token: 't{i}'}}}}" for i in range(groups)
    ]
    lines += ["session_templates:"]
    lines += [f"  t{i}: {{providers: [{{deployment: d{i}, config: c{i}, auth_config: a{i}}}]}}" for i in range(groups)]
    return "\n".join(lines) + "\n"


def write_stack(work: Path, resources: int, name: str) -> Path:
    path = work / f"{name}.yaml"
    path.write_text(stack_yaml(max(1, resources // RESOURCES_PER_GROUP), name))
    return path


@dataclass(frozen=True)
class CliRun:
    """One finished CLI process."""

    code: int
    wall_s: float
    max_rss_mib: float
    out: str
    err: str

    def check(self, *codes: int) -> CliRun:
        if self.code not in (codes or (0,)):
            raise RuntimeError(f"CLI exited {self.code}:\n{self.out[-1500:]}\n{self.err[-1500:]}")
        return self


def cli_env(key: str | None) -> dict[str, str]:
    extra = {"CI": "1", "NO_COLOR": "1", "METORIAL_API_KEY": SECRET_KEY}
    return child_env(extra | ({"METORIAL_APPLY_FINGERPRINT_KEY": key} if key else {}))


def run_cli(args: list[str], work: Path, *, key: str | None = None, timeout_s: float = 900.0) -> CliRun:
    """`python -m metorial_apply ARGS` in `work`; wall time and its own peak RSS (wait4's rusage).
    Killed after `timeout_s`, which then raises."""
    out_path, err_path = work / "cli.out", work / "cli.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "metorial_apply", *args], stdout=out, stderr=err,
                                 stdin=subprocess.DEVNULL, cwd=work, env=cli_env(key))
        timer = threading.Timer(timeout_s, child.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    if child.returncode < 0:
        raise RuntimeError(f"CLI {args[0]} killed (signal {-child.returncode}); limit {timeout_s:.0f} s")
    return CliRun(child.returncode, wall, usage.ru_maxrss / 1024, out_path.read_text(), err_path.read_text())
