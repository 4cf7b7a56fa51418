"""One fixture per way a configuration can be wrong. Each fixture states, in comments, where
the error must point and what it must say; the test runs `validate` through the real CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
INVALID = FIXTURES / "invalid"
CASES = sorted(p.name for p in INVALID.iterdir() if not p.name.startswith("."))


def _header(fixture: Path) -> str:
    first = fixture / "a.yaml" if fixture.is_dir() else fixture
    return first.read_text(encoding="utf-8")


def _expectations(fixture: Path) -> tuple[str, str, str | None, list[str]]:
    """(location prefix, message substring, hint substring, extra args) from the comments."""
    text = _header(fixture).replace("{dir}", str(fixture)).replace("{fixtures}", str(FIXTURES))
    args = re.search(r"^# args: (.*)$", text, re.M)
    hint = re.search(r"^# expect-hint: (.*)$", text, re.M)
    inside = re.search(r"^# expect-in: (\S+) (.*)$", text, re.M)
    if inside:
        location, message = inside.groups()
    else:
        where, message = re.search(r"^# expect: (\S+) (.*)$", text, re.M).groups()  # type: ignore[union-attr]
        location = str(fixture) if where == "0" else f"{fixture}:{where}"
    return location, message, hint.group(1) if hint else None, args.group(1).split() if args else []


def test_there_are_at_least_25_failure_modes() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES)
def test_failure_mode(case: str, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("METORIAL_TEST_SURELY_UNSET", raising=False)
    fixture = INVALID / case
    location, message, hint, args = _expectations(fixture)
    result = run_cli("validate", str(fixture), *args)
    assert result.code == 1, result.err
    assert "Traceback" not in result.err and "internal error" not in result.err
    errors = [line for line in result.err.splitlines() if line.startswith("Error: ")]
    matching = [
        line
        for line in errors
        if line.startswith((f"Error: {location}:", f"Error: {location}: ")) or line == f"Error: {location}: {message}"
    ]
    assert matching, f"no error at {location}; got:\n{result.err}"
    assert any(message in line for line in matching), f"{message!r} not in:\n{result.err}"
    if hint:
        assert f"  hint: {hint}" in result.err, result.err
    assert re.search(r"^\d+ errors?; nothing was sent to the API\.$", result.err, re.M)
    assert result.out == ""
