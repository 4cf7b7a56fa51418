"""The stack lock's options: --lock-skew and the settle delay, their defaults (none for the
in-process emulator, which has one clock and lists that never lag) and their bounds."""

from __future__ import annotations

from typing import Any

import click
import pytest

from metorial_apply.cli.lock import lock_settings
from tests.cli.runner import run


def options(api_url: str = "https://api.metorial.com", **given: Any) -> dict[str, Any]:
    return {"lock_settle": None, "lock_skew": None, "lock_ttl": 120.0, "lock_timeout": 0.0, "api_url": api_url} | given


def test_defaults_are_one_second_of_settle_and_five_of_skew_and_none_locally() -> None:
    remote = lock_settings(options())
    assert (remote.settle_s, remote.skew_s, remote.horizon_s) == (1.0, 5.0, 6.0)
    local = lock_settings(options("local"))
    assert (local.settle_s, local.skew_s) == (0.0, 0.0)
    assert lock_settings(options("local", lock_skew=3.0)).skew_s == 3.0  # given: kept
    short = lock_settings(options(lock_ttl=8.0))  # unset, both shrink to fit a quarter TTL
    assert (short.settle_s, short.skew_s) == (1.0, 1.0)


def test_a_skew_too_long_for_the_ttl_names_the_option() -> None:
    with pytest.raises(click.BadParameter) as info:
        lock_settings(options(lock_ttl=8.0, lock_skew=5.0))
    assert info.value.param_hint == "--lock-skew" and "quarter of --lock-ttl" in info.value.format_message()
    with pytest.raises(click.BadParameter) as info:
        lock_settings(options(lock_ttl=8.0, lock_settle=3.0, lock_skew=0.0))
    assert info.value.param_hint == "--lock-settle"


def test_the_skew_comes_from_the_environment_too(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METORIAL_APPLY_LOCK_SKEW", "-1")
    code, _, err = run(capsys, "apply", "--api-url", "local", "--auto-approve")
    assert code == 64 and "--lock-skew" in err  # a usage error
    code, out, _ = run(capsys, "apply", "--help")
    assert code == 0 and "--lock-skew SECONDS" in out and "--lock-settle" not in out
