"""ruff, with the project's configuration in pyproject.toml, finds nothing: the test command
enforces the lint rules, so CI does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_would_report_a_finding(tmp_path: Path) -> None:
    """The same invocation goes red on a real finding, with the project's rules applied."""
    sample = tmp_path / "sample.py"
    sample.write_text("import os\n\n\ndef f(x=[]):\n    return x\n")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                             str(ROOT / "pyproject.toml"), str(sample)],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 1
    assert "F401" in result.stdout and "B006" in result.stdout
