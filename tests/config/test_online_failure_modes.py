"""What the API would refuse at apply time, caught by `validate --online` before any write.

One fixture per rule (tests/config/fixtures/online/), each stating in comments where the error
must point (line:col) and its hint, as in test_failure_modes.py. The CLI runs against a real-HTTP
emulator on 127.0.0.1; the emulator's own counters show that only GETs were sent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.test_failure_modes import _expectations
from tests.emulator_server import SECRET_KEY, EmulatorThread

ONLINE = Path(__file__).parent / "fixtures" / "online"
CASES = sorted(p.name for p in ONLINE.glob("*.yaml"))


def test_every_rule_has_a_fixture() -> None:
    assert {"auth_config_required.yaml", "config_required.yaml", "template_config_other_deployment.yaml",
            "vault_deployment_mismatch.yaml", "unknown_tool_key.yaml"} <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_online_failure_mode(case: str, run_cli, live_server: EmulatorThread,  # type: ignore[no-untyped-def]
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METORIAL_API_KEY", SECRET_KEY)
    fixture = ONLINE / case
    location, message, hint, _ = _expectations(fixture)
    before = live_server.emulator.stats()["calls"]
    result = run_cli("validate", str(fixture), "--online", "--api-url", live_server.url)
    assert result.code == 1, result.err
    errors = [line for line in result.err.splitlines() if line.startswith("Error: ")]
    assert f"Error: {location}: {message}" in errors, result.err
    assert f"  hint: {hint}" in result.err, result.err
    assert "nothing was sent to the API" in result.err and result.out == ""
    calls = live_server.emulator.stats()["calls"]
    new = {route for route, count in calls.items() if count != before.get(route, 0)}
    # At most the catalog was read (binding rules fail before that, from the YAML alone); nothing written.
    assert all(route.startswith("GET ") for route in new), new
