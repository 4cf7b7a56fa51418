"""Per-key secret fingerprints through the real CLI (`--api-url local`): with a fingerprint key
the plan names the top-level keys of a config value that changed, never a value; in scrypt
mode it names none and says naming needs the key (issue 12, item 4). The catalog's slack
config has two keys (`workspace`, `default_channel`), so adding, changing and removing are
shown over two applies."""

from __future__ import annotations

import json
from pathlib import Path

from tests.apply.conftest import Result, run_cli

KEY = "canary-KEY-perkey-do-not-print-0123456789"
VALUES = {"A": "canary-A-value-1111", "B": "canary-B-value-2222", "C": "canary-C-value-4444"}
STACK = """\
stack: perkey
deployments:
  sl: {{provider: slack, description: perkey}}
configs:
  sl-cfg: {{deployment: sl, value: {{{value}}}}}
"""
ONE = 'workspace: "${env:A}"'
TWO = 'workspace: "${env:A}", default_channel: "${env:B}"'
OTHER = 'workspace: "${env:C}"'


def cli(tmp: Path, args: list[str], key: str | None, api: bool = True) -> Result:
    env = {"METORIAL_APPLY_FINGERPRINT_KEY": key, "METORIAL_API_KEY": None, "METORIAL_API_URL": None} | VALUES
    return run_cli([*args, *(["--api-url", "local"] if api else [])], env=env, cwd=tmp)  # type: ignore[arg-type]


def apply_then_plan(tmp: Path, key: str | None, applied: str, planned: str) -> tuple[Result, list[dict], str]:
    """Apply `applied`, plan `planned` every way: (text run, JSON diffs, every output and file)."""
    path, files = tmp / "stack.yaml", [tmp / "plan.json", tmp / "plan.md"]
    path.write_text(STACK.format(value=applied))
    done = cli(tmp, ["apply", str(path), "--auto-approve", "--allow-delete"], key)
    assert done.code == 0, done.out + done.err
    path.write_text(STACK.format(value=planned))
    text = cli(tmp, ["plan", str(path), "--detailed-exitcode", "--out", str(files[0]), "--markdown", str(files[1])],
               key)
    as_json = cli(tmp, ["plan", str(path), "--json"], key)
    shown = cli(tmp, ["show", str(files[0])], key, api=False)
    assert shown.code == 0, shown.out + shown.err
    assert text.code == 3 and "-/+ config.sl-cfg" in text.out, text.out + text.err
    diffs = [d for c in json.loads(as_json.out)["changes"] for d in c.get("diffs", [])]
    outputs = [done, text, as_json, shown]
    everything = "".join([r.out + r.err for r in outputs] + [f.read_text() for f in files])
    for canary in (KEY, *VALUES.values()):
        assert canary not in everything, canary
    return text, diffs, everything


def test_keyed_plan_names_added_changed_and_removed_keys_never_values(tmp_path: Path) -> None:
    text, diffs, everything = apply_then_plan(tmp_path, KEY, ONE, TWO)
    assert "value.default_channel  (added)" in text.out and "value.workspace" not in everything
    assert everything.count("value.default_channel  (added)") == 2  # the plan, and `show` of its saved file
    assert {"field": "value.default_channel", "before": None, "after": "(secret)", "secret": True} in diffs
    assert "| value.default\\_channel | *(none)* | *(added)* |" in (tmp_path / "plan.md").read_text()
    text, diffs, everything = apply_then_plan(tmp_path, KEY, TWO, OTHER)
    assert "value.workspace        (secret changed)" in text.out
    assert "value.default_channel  (removed)" in text.out
    assert {d["field"] for d in diffs if d["secret"]} == {"value.default_channel", "value.workspace"}
    assert "METORIAL_APPLY_FINGERPRINT_KEY" not in everything


def test_scrypt_plan_names_no_key_and_says_the_key_would(tmp_path: Path) -> None:
    text, diffs, everything = apply_then_plan(tmp_path, None, TWO, OTHER)
    assert "(secret changed)" in text.out and "value.workspace" not in everything
    assert "value.default_channel" not in everything
    assert "naming the changed key of a secret value needs METORIAL_APPLY_FINGERPRINT_KEY" in text.out
    assert [d["field"] for d in diffs if d["secret"]] == ["value"]
