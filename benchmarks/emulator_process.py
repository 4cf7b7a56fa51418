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
    child_env,
    free_port,
)

__all__ = ["HOST", "REPO", "SECRET_KEY", "EmulatorAdmin", "EmulatorProcess", "child_env", "free_port"]
