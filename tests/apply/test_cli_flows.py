"""apply of a saved plan (and refusing a stale one), safety refusals, destroy, replace order —
the real CLI against a real-HTTP emulator."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx

from tests.apply.conftest import copy_example, run_cli
from tests.emulator_server import SECRET_KEY, EmulatorProcess

STACK = """\
stack: flows
deployments:
  gh: {{provider: github, description: {desc}}}
configs:
  gh-cfg: {{deployment: gh, value: {{base_url: "{url}"}}{protect}}}
auth_configs:
  gh-token: {{deployment: gh, method: token, value: {{token: t}}}}
session_templates:
  bot:
    providers: [{{deployment: gh, config: gh-cfg, auth_config: gh-token}}]
"""


def write(path: Path, desc: str = "one", url: str = "https://api.github.com", protect: bool = False) -> None:
    path.write_text(STACK.format(desc=desc, url=url, protect=", protect: true" if protect else ""))


def env(server: EmulatorProcess) -> dict[str, str]:
    return {"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY}


def ok(args: list[str], server: EmulatorProcess) -> str:
    result = run_cli(args, env=env(server))
    assert result.code == 0, result.out + result.err
    return result.out


def test_saved_plan_applies_and_a_stale_one_is_refused_naming_the_resource(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    path, saved = tmp_path / "stack.yaml", tmp_path / "plan.json"
    write(path)
    ok(["apply", str(path), "--auto-approve"], emulator)
    write(path, desc="two")
    ok(["plan", str(path), "--out", str(saved)], emulator)
    # someone edits the deployment by hand after the plan was saved
    dep = next(o for o in emulator.objects("flows") if o["kind"] == "deployment")
    httpx.patch(f"{emulator.url}/provider-deployments/{dep['id']}", json={"description": "by hand"},
                headers={"Authorization": f"Bearer {SECRET_KEY}"}).raise_for_status()
    stale = run_cli(["apply", str(saved), "--auto-approve"], env=env(emulator))
    assert stale.code == 1 and "stale" in stale.err and "deployment.gh (changed)" in stale.err
    ok(["plan", str(path), "--out", str(saved)], emulator)
    out = ok(["apply", str(saved), "--auto-approve"], emulator)
    assert "1 done, 0 failed" in out
    ok(["plan", str(path), "--detailed-exitcode"], emulator)


def test_saved_plan_refused_when_the_config_changed(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path, saved = tmp_path / "stack.yaml", tmp_path / "plan.json"
    write(path)
    ok(["plan", str(path), "--out", str(saved)], emulator)
    write(path, desc="changed after plan")
    result = run_cli(["apply", str(saved), "--auto-approve"], env=env(emulator))
    assert result.code == 1 and "configuration changed since the plan was made" in result.err
    assert emulator.objects("flows") == []


def test_replace_creates_new_repoints_template_and_deletes_old(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path, journal = tmp_path / "stack.yaml", tmp_path / "j.jsonl"
    write(path)
    ok(["apply", str(path), "--auto-approve"], emulator)
    old = next(o["id"] for o in emulator.objects("flows") if o["kind"] == "config")
    write(path, url="https://ghe.example.com/api/v3")  # a config value is create-only: replace
    out = ok(["apply", str(path), "--auto-approve", "--allow-delete", "--journal", str(journal)], emulator)
    assert "-/+ config.gh-cfg" in out and f"(deleted {old})" in out
    calls = [json.loads(line) for line in journal.read_text().splitlines()]
    writes = [(c["method"], c["path"].split("/")[1]) for c in calls if c["event"] == "call" and c["method"] != "GET"]
    assert writes.index(("POST", "provider-configs")) < writes.index(("POST", "session-template-providers"))
    assert writes.index(("POST", "session-template-providers")) < writes.index(("DELETE", "provider-configs"))
    ok(["plan", str(path), "--detailed-exitcode"], emulator)
    active = list(emulator.objects("flows", status="active"))
    assert Counter(o["kind"] for o in active) == {"deployment": 1, "config": 1, "auth_config": 1, "session_template": 1}
    providers = emulator.admin("GET", "/objects", params={"kind": "template_provider", "status": "active"})[
        "items"
    ]
    new = next(o["id"] for o in active if o["kind"] == "config")
    assert [p["config"]["id"] for p in providers] == [new]  # nothing hangs on the old config


def test_deletes_in_ci_need_allow_delete(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    write(path)
    ok(["apply", str(path), "--auto-approve"], emulator)
    path.write_text("stack: flows\ndeployments:\n  gh: {provider: github, description: one}\n")  # 3 deletes
    refused = run_cli(["apply", str(path), "--auto-approve"], env=env(emulator))
    assert refused.code == 1 and "config.gh-cfg" in refused.err and "needs --allow-delete" in refused.err
    assert len(emulator.objects("flows", status="active")) == 4
    ok(["apply", str(path), "--auto-approve", "--allow-delete"], emulator)
    assert len(emulator.objects("flows", status="active")) == 1


def test_destroy_refuses_protected_then_deletes_everything_dependents_first(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    path, journal = tmp_path / "stack.yaml", tmp_path / "j.jsonl"
    write(path, protect=True)
    ok(["apply", str(path), "--auto-approve"], emulator)
    refused = run_cli(["destroy", str(path), "--auto-approve"], env=env(emulator))
    assert refused.code == 1 and "config.gh-cfg" in refused.err and "protect: true" in refused.err
    assert len(emulator.objects("flows", status="active")) == 4
    write(path)
    (tmp_path / "empty").mkdir()
    refused = run_cli(["destroy", str(tmp_path / "empty"), "--stack", "flows", "--auto-approve"], env=env(emulator))
    assert refused.code == 1 and "config.gh-cfg" in refused.err  # the applied flag still guards it
    ok(["apply", str(path), "--auto-approve"], emulator)  # protect: false lands in the stamps
    out = ok(["destroy", str(path), "--auto-approve", "--journal", str(journal)], emulator)
    assert "Destroy finished in" in out and "4 done, 0 failed" in out
    assert emulator.objects("flows", status="active") == []
    deletes = [json.loads(x)["path"].split("/")[1] for x in journal.read_text().splitlines()
               if json.loads(x).get("method") == "DELETE" and json.loads(x).get("address")]
    assert deletes[0] == "session-templates" and deletes[-1] == "provider-deployments"
    assert sorted(deletes[1:-1]) == ["provider-auth-configs", "provider-configs"]
    again = ok(["destroy", str(path), "--auto-approve"], emulator)
    assert "Nothing to destroy" in again


def test_examples_are_copied_without_the_state_a_local_run_left_there(tmp_path: Path) -> None:
    """README's first command keeps the emulator's state in examples/quickstart/.metorial-apply/;
    the suite run after it must not read it (it once saw "no changes" there)."""
    examples = tmp_path / "examples"
    (examples / "quickstart" / ".metorial-apply").mkdir(parents=True)
    (examples / "quickstart" / ".metorial-apply" / "emulator.sqlite3").write_text("state of an earlier run")
    (examples / "quickstart" / "stack.yaml").write_text("stack: quickstart\n")
    copied = copy_example("quickstart", tmp_path / "copy", examples=examples)
    assert sorted(p.name for p in copied.iterdir()) == ["stack.yaml"]
