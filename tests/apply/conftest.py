"""Integration helpers: a runner for the real CLI entry point (`metorial_apply.cli.main`) and
the examples to run it on. The emulator it talks to is tests/conftest.py's `emulator` fixture."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from metorial_apply.cli.session import STATE_DIR

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
    """Run `metorial_apply.cli.main` in-process (its error mapping included), capturing output."""
    from metorial_apply.cli import main

    runner = CliRunner()
    # The emulator answers a write only once it is visible to every read, on one clock, so the
    # stack lock's settle delay (for APIs whose lists may lag) and its wait for clock skew (for
    # servers whose clocks disagree) only slow these runs; tests/apply/test_lock.py and
    # tests/apply/test_lock_skew.py run with them.
    lock = {"METORIAL_APPLY_LOCK_SETTLE": "0", "METORIAL_APPLY_LOCK_SKEW": "0"}
    base = {"CI": "1", "NO_COLOR": "1", **lock} | (env or {})
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


def copy_example(name: str, dest: Path, *, examples: Path = REPO / "examples") -> Path:
    """A copy of `examples/<name>` at `dest/<name>`, without the state README's first command
    leaves there (`--api-url local` keeps the emulator's SQLite in `.metorial-apply/`): a test
    reads the example, never what someone's run left beside it."""
    target = dest / name.replace("/", "_")
    shutil.copytree(examples / name, target, ignore=shutil.ignore_patterns(STATE_DIR))
    return target
