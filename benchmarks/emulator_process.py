"""Benchmarks' entry to the emulator process runner (metorial_apply/emulator/process.py).

Benchmarks run as scripts (`python benchmarks/x.py`), which puts only benchmarks/ on sys.path:
importing this module first puts this checkout ahead, so they measure its code, not some other
installed copy.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from metorial_apply.emulator.process import (  # noqa: E402
    HOST,
    SECRET_KEY,
    EmulatorAdmin,
    EmulatorProcess,
    free_port,
)
from metorial_apply.emulator.process import child_env as _child_env  # noqa: E402

# One emulator has one clock, so the clock skew the stack lock tolerates between an API's
# servers (--lock-skew, 5 s by default) is 0 here; runs still pay the 1 s settle delay.
SINGLE_CLOCK = {"METORIAL_APPLY_LOCK_SKEW": "0"}


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The CLI's environment for a benchmark: the package's own (emulator/process.py) on one clock."""
    return _child_env(SINGLE_CLOCK | (extra or {}))

__all__ = ["HOST", "REPO", "SECRET_KEY", "EmulatorAdmin", "EmulatorProcess", "child_env", "free_port"]
