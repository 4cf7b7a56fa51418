"""An unexpected exception (a bug) is reported without its text, which may quote a value: the
canary secret a config reads from the environment never reaches stdout or stderr, with or
without --debug."""

from __future__ import annotations

from pathlib import Path

import pytest

from metorial_apply.cli import planrun as plan_command
from tests.apply.conftest import run_cli

CANARY = "canary-internal-9d41e7"
CONFIG = """stack: bugs
deployments:
  gh: {provider: github}
configs:
  gh-prod: {deployment: gh, value: {base_url: "${env:GH_URL}"}}
"""


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("exc_type", [RuntimeError, KeyError, ValueError])
def test_an_internal_errors_text_never_carries_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        debug: bool, exc_type: type[Exception]) -> None:
    (tmp_path / "stack.yaml").write_text(CONFIG)

    def buggy(*args: object, **kwargs: object) -> None:
        try:
            raise OSError(f"inner cause with {CANARY}")
        except OSError as inner:
            raise exc_type(f"a bug that quotes the value https://{CANARY}.example") from inner

    monkeypatch.setattr(plan_command, "fresh_plan", buggy)
    result = run_cli([*(["--debug"] if debug else []), "plan", str(tmp_path), "--api-url", "local"],
                     env={"GH_URL": f"https://{CANARY}.example"})
    assert result.code == 1
    assert f"Error: internal error ({exc_type.__name__}); re-run with --debug for details." in result.err
    assert CANARY not in result.out + result.err
    if debug:  # the traceback is there, its messages are not
        assert "Traceback" in result.err and "buggy" in result.err and f"{exc_type.__name__}" in result.err
