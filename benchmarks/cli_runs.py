"""Generated stacks and the CLI run as a user runs it: a child `python -m metorial_apply …`
whose wall time and peak RSS (VmHWM, sampled) are measured.

A stack of `groups` × (deployment, config, auth config, session template): the config and
the auth config values are write-only secrets, so half the resources carry a secret.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from emulator_process import SECRET_KEY, child_env  # first: it puts this checkout on sys.path

RESOURCES_PER_GROUP = 4
BENCH_KEY = "benchmark-only-fingerprint-key-0123456789"  # not a secret: only ever used on the emulator
RSS_SAMPLE_S = 0.02  # VmHWM only grows, so a sample this often misses at most the last 20 ms


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


def run_cli(args: list[str], work: Path, *, key: str | None = None, timeout_s: float = 900.0,
            env: dict[str, str] | None = None) -> CliRun:
    """`python -m metorial_apply ARGS` in `work`; wall time and its own peak RSS. Killed after
    `timeout_s`, which then raises."""
    out_path, err_path = work / "cli.out", work / "cli.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "metorial_apply", *args], stdout=out, stderr=err,
                                 stdin=subprocess.DEVNULL, cwd=work, env=cli_env(key) | (env or {}))
        peak = PeakRss(child.pid)
        peak.start()
        try:
            code = child.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            raise RuntimeError(f"CLI {args[0]} killed after {timeout_s:.0f} s") from None
        finally:
            peak.stop.set()
            peak.join()
        wall = time.perf_counter() - started
    return CliRun(code, wall, peak.kib / 1024, out_path.read_text(), err_path.read_text())


class PeakRss(threading.Thread):
    """Samples the child's VmHWM (its peak RSS since exec) until it exits. Not wait4's
    ru_maxrss: Linux carries the pre-exec high-water mark over exec, and before exec the
    child is a copy of this (much larger) process."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.status = Path(f"/proc/{pid}/status")
        self.kib = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while True:
            try:
                text = self.status.read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    self.kib = max(self.kib, int(line.split()[1]))
            if self.stop.wait(RSS_SAMPLE_S):
                return
