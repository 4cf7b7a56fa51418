"""Keyed fingerprints through the real CLI against the in-process emulator (`--api-url local`):
the key comes from METORIAL_APPLY_FINGERPRINT_KEY only and never reaches any output or file."""

from __future__ import annotations

from pathlib import Path

from tests.apply.conftest import Result, run_cli

KEY = "canary-KEY-do-not-print-0123456789abcdef"
STACK = """\
stack: keyed
deployments:
  gh: {{provider: github, description: keyed}}
configs:
  gh-cfg: {{deployment: gh, value: {{base_url: "{url}"}}}}
"""


def cli(args: list[str], key: str | None, *extra: str) -> Result:
    # None deletes the variable inside the run, so the outer environment cannot leak in.
    env = {"METORIAL_APPLY_FINGERPRINT_KEY": key, "METORIAL_API_KEY": None, "METORIAL_API_URL": None}
    result = run_cli([*args, "--api-url", "local", *extra], env=env)  # type: ignore[arg-type]
    assert KEY not in result.out + result.err
    return result


def write(path: Path, url: str = "https://api.github.com") -> None:
    path.write_text(STACK.format(url=url))


def test_keyed_apply_plan_refusal_and_secret_change(tmp_path: Path) -> None:
    path, journal, saved, md = tmp_path / "stack.yaml", tmp_path / "j.jsonl", tmp_path / "plan.json", tmp_path / "p.md"
    write(path)
    applied = cli(["apply", str(path), "--auto-approve", "--journal", str(journal)], KEY)
    assert applied.code == 0, applied.out + applied.err
    same = cli(["plan", str(path), "--detailed-exitcode", "--out", str(saved), "--markdown", str(md)], KEY)
    assert same.code == 0 and "No changes" in same.out, same.out + same.err
    refused = cli(["plan", str(path)], None)
    assert refused.code == 1 and "config.gh-cfg" in refused.err and "METORIAL_APPLY_FINGERPRINT_KEY" in refused.err
    write(path, url="https://ghe.example.com/api/v3")
    changed = cli(["plan", str(path), "--detailed-exitcode", "--out", str(saved), "--markdown", str(md)], KEY)
    assert changed.code == 3 and "-/+ config.gh-cfg" in changed.out and "(secret changed)" in changed.out
    for file in (journal, saved, md):
        assert KEY not in file.read_text()
    wrong = cli(["plan", str(path)], KEY.replace("canary", "other!"))
    assert wrong.code == 1 and "key id" in wrong.err and "config.gh-cfg" in wrong.err


def test_scrypt_stamps_with_a_key_set_plan_no_changes(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    write(path)
    assert cli(["apply", str(path), "--auto-approve"], None).code == 0
    planned = cli(["plan", str(path), "--detailed-exitcode"], KEY)
    assert planned.code == 0 and "No changes" in planned.out, planned.out + planned.err


def test_a_short_key_is_refused_before_anything_runs(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    write(path)
    for command in (["plan", str(path)], ["apply", str(path), "--auto-approve"]):
        result = cli(command, "short-canary-key")
        assert result.code == 1 and "too short" in result.err and "short-canary-key" not in result.out + result.err
    assert cli(["plan", str(path), "--detailed-exitcode"], None).code == 2  # nothing was applied
