"""`metorial-apply keygen` and the plan's suggestion to use it, through the real CLI against the
in-process emulator: the printed key works as METORIAL_APPLY_FINGERPRINT_KEY, and a plan that
paid for many scrypt comparisons without a key says how to avoid them (never with a value)."""

from __future__ import annotations

from pathlib import Path

import pytest

from metorial_apply.core import fingerprint
from metorial_apply.core.fingerprint import FingerprintKey
from tests.apply.conftest import Result, run_cli

CANARY = "canary-secret-value-7f3e"
STACK = """\
stack: hinted
deployments:
  gh: {provider: github}
configs:
""" + "".join(f"  c{i}: {{deployment: gh, value: {{base_url: 'https://{CANARY}-{i}.example'}}}}\n" for i in range(3))


def cli(args: list[str], key: str | None = None) -> Result:
    env = {"METORIAL_APPLY_FINGERPRINT_KEY": key, "METORIAL_API_KEY": None, "METORIAL_API_URL": None}
    result = run_cli(args, env=env)  # type: ignore[arg-type]
    assert CANARY not in result.out + result.err
    return result


def test_keygen_prints_only_a_fresh_usable_key_on_stdout() -> None:
    first, second = cli(["keygen"]), cli(["keygen"])
    assert first.code == 0 and second.code == 0
    key = first.out.strip()
    assert first.out == key + "\n" and key != second.out.strip()
    assert len(key) >= fingerprint.MIN_KEY_CHARS
    assert FingerprintKey.parse(key).key_id in first.err and "METORIAL_APPLY_FINGERPRINT_KEY" in first.err
    quiet = cli(["-q", "keygen"])
    assert quiet.err == "" and len(quiet.out.strip()) >= fingerprint.MIN_KEY_CHARS


def test_a_generated_key_keys_the_stamps_of_an_apply(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK)
    key = cli(["-q", "keygen"]).out.strip()
    assert cli(["apply", str(path), "--auto-approve", "--api-url", "local"], key).code == 0
    same = cli(["plan", str(path), "--detailed-exitcode", "--api-url", "local"], key)
    assert same.code == 0 and "No changes" in same.out and "keygen" not in same.err, same.out + same.err
    without = cli(["plan", str(path), "--api-url", "local"])
    assert without.code == 1 and "cannot compare the keyed secret fingerprints of config.c0" in without.err


def test_plan_suggests_keygen_above_the_threshold_and_not_below(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK)
    assert cli(["apply", str(path), "--auto-approve", "--api-url", "local"]).code == 0
    below = cli(["plan", str(path), "--api-url", "local"])
    assert below.code == 0 and "keygen" not in below.err
    monkeypatch.setattr(fingerprint, "SUGGEST_KEY_ABOVE", 2)
    above = cli(["plan", str(path), "--api-url", "local"])
    assert above.code == 0 and "3 secret values were compared by scrypt" in above.err
    assert "metorial-apply keygen" in above.err and "keygen" not in above.out
    assert "keygen" not in cli(["-q", "plan", str(path), "--api-url", "local"]).err
    keyed = cli(["plan", str(path), "--api-url", "local"], "k" * 40)
    assert keyed.code == 0 and "keygen" not in keyed.err


def test_key_hint_threshold() -> None:
    assert fingerprint.key_hint(fingerprint.SUGGEST_KEY_ABOVE) is None
    hint = fingerprint.key_hint(fingerprint.SUGGEST_KEY_ABOVE + 1)
    assert hint is not None and str(fingerprint.SUGGEST_KEY_ABOVE + 1) in hint
