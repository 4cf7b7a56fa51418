"""Helpers for config tests: run the real CLI entry point and capture what a user would see."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from metorial_apply.cli import main


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Call `metorial_apply.cli.main(argv)` and return exit code, stdout and stderr."""

    def run(*argv: str) -> Run:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main(list(argv))
        captured = capsys.readouterr()
        code = exc.value.code if isinstance(exc.value.code, int) else 1
        return Run(code, captured.out, captured.err)

    return run
