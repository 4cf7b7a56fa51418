"""Run the CLI's `main` in-process and return its exit code, stdout and stderr."""

from __future__ import annotations

import pytest

from metorial_apply.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err
