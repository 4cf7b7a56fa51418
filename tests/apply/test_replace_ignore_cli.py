"""`--replace ADDRESS` and `ignore: [field, …]` through the real CLI against a real-HTTP emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.apply.conftest import run_cli
from tests.emulator_server import SECRET_KEY, EmulatorProcess

STACK = "refactor"
REPLACE_STACK = """\
stack: refactor
deployments:
  gh: {{provider: github, description: one{protect}}}
configs:
  gh-cfg: {{deployment: gh, value: {{base_url: "https://api.github.com"}}}}
auth_configs:
  gh-token: {{deployment: gh, method: token, value: {{token: t}}}}
session_templates:
  bot:
    providers: [{{deployment: gh, config: gh-cfg, auth_config: gh-token}}]
"""
IGNORE_STACK = """\
stack: refactor
deployments:
  gh:
    provider: github
    name: {name}
    description: {desc}
    metadata: {{team: yaml}}
    ignore: [description, metadata]
configs:
  gh-cfg:
    deployment: gh
    value: {{base_url: "{url}"}}
    ignore: {cfg_ignore}
"""
PATHS = {"deployment": "provider-deployments", "config": "provider-configs"}


def env(server: EmulatorProcess) -> dict[str, str]:
    return {"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY}


def cli(server: EmulatorProcess, *args: str) -> tuple[int, str, str]:
    result = run_cli(list(args), env=env(server))
    return result.code, result.out, result.err


def ok(server: EmulatorProcess, *args: str) -> str:
    code, out, err = cli(server, *args)
    assert code == 0, out + err
    return out


def active(server: EmulatorProcess) -> dict[str, dict[str, Any]]:
    """kind → the one active object of that kind in the stack (these stacks hold one of each)."""
    found: dict[str, dict[str, Any]] = {}
    for o in server.objects(STACK, status="active"):
        assert o["kind"] not in found, f"two active {o['kind']}s"
        found[o["kind"]] = o
    return found


def status_of(server: EmulatorProcess, id: str) -> str:
    return next(o["status"] for o in server.objects(STACK) if o["id"] == id)


def template_provider(server: EmulatorProcess) -> dict[str, Any]:
    items = server.admin("GET", "/objects", params={"kind": "template_provider", "status": "active"})["items"]
    assert len(items) == 1
    return items[0]


def dashboard_edit(server: EmulatorProcess, obj: dict[str, Any], **body: Any) -> None:
    """A change made outside metorial-apply, straight through the API (as the dashboard would)."""
    httpx.patch(f"{server.url}/{PATHS[obj['kind']]}/{obj['id']}", json=body,
                headers={"Authorization": f"Bearer {SECRET_KEY}"}).raise_for_status()


# -- --replace ------------------------------------------------------------------------------


def test_replace_gives_new_ids_repoints_the_template_deletes_the_old_and_converges(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(REPLACE_STACK.format(protect=""))
    ok(emulator, "apply", str(path), "--auto-approve")
    before = active(emulator)
    code, out, _ = cli(emulator, "plan", str(path), "--replace", "deployment.gh", "--detailed-exitcode")
    assert code == 3, out  # destructive
    assert "-/+ deployment.gh" in out and "replace requested (--replace)" in out
    assert "Apply with: metorial-apply apply --replace deployment.gh" in out
    code, _, err = cli(emulator, "apply", str(path), "--replace", "deployment.gh", "--auto-approve")
    assert code == 1 and "needs --allow-delete" in err  # CI mode: a replace is a delete
    assert active(emulator) == before
    ok(emulator, "apply", str(path), "--replace", "deployment.gh", "--auto-approve", "--allow-delete")
    after = active(emulator)
    assert after["deployment"]["id"] != before["deployment"]["id"]
    assert after["config"]["id"] != before["config"]["id"]  # deployment is create-only for a config: cascade
    assert after["auth_config"]["id"] != before["auth_config"]["id"]
    assert after["session_template"]["id"] == before["session_template"]["id"]  # repointed in place
    provider = template_provider(emulator)
    assert provider["deployment"]["id"] == after["deployment"]["id"]
    assert provider["config"]["id"] == after["config"]["id"]
    assert provider["auth_config"]["id"] == after["auth_config"]["id"]
    assert status_of(emulator, before["deployment"]["id"]) != "active"
    assert status_of(emulator, before["config"]["id"]) != "active"
    assert cli(emulator, "plan", str(path), "--detailed-exitcode")[0] == 0


def test_a_saved_plan_made_with_replace_applies_only_when_apply_repeats_it(emulator: EmulatorProcess,
                                                                         tmp_path: Path) -> None:
    path, saved = tmp_path / "stack.yaml", tmp_path / "plan.json"
    path.write_text(REPLACE_STACK.format(protect=""))
    ok(emulator, "apply", str(path), "--auto-approve")
    old = active(emulator)["config"]["id"]
    ok(emulator, "plan", str(path), "--replace", "config.gh-cfg", "--out", str(saved))
    assert json.loads(saved.read_text())["inputs"]["replace"] == ["config.gh-cfg"]
    # Unkeyed, an edit of the file could have added the replace: the command line must repeat it.
    code, _, err = cli(emulator, "apply", str(saved), "--auto-approve", "--allow-delete")
    assert code != 0 and "repeat it on the apply command line" in err and "--replace config.gh-cfg" in err
    code, _, err = cli(emulator, "apply", str(saved), "--replace", "deployment.gh", "--auto-approve", "--allow-delete")
    assert code != 0 and "must repeat the saved plan's --replace exactly" in err
    assert active(emulator)["config"]["id"] == old  # refused: nothing written
    ok(emulator, "apply", str(saved), "--replace", "config.gh-cfg", "--auto-approve", "--allow-delete")
    assert active(emulator)["config"]["id"] != old and status_of(emulator, old) != "active"
    assert cli(emulator, "plan", str(path), "--detailed-exitcode")[0] == 0


def test_a_plan_json_made_with_replace_is_refused_by_an_apply_without_it(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    path, saved = tmp_path / "stack.yaml", tmp_path / "plan.json"
    path.write_text(REPLACE_STACK.format(protect=""))
    ok(emulator, "apply", str(path), "--auto-approve")
    saved.write_text(ok(emulator, "plan", str(path), "--replace", "config.gh-cfg", "--json"))
    before = active(emulator)
    code, _, err = cli(emulator, "apply", str(saved), "--auto-approve", "--allow-delete")
    assert code == 1 and "does not match" in err and "'action'" in err
    assert active(emulator) == before


def test_replace_errors(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(REPLACE_STACK.format(protect=", protect: true"))
    ok(emulator, "apply", str(path), "--auto-approve")
    code, _, err = cli(emulator, "plan", str(path), "--replace", "deployment.nope")
    assert code == 1 and "--replace names no resource in config or live state: deployment.nope" in err
    code, _, err = cli(emulator, "plan", str(path), "--replace", "nonsense")
    assert code not in (0, 2, 3) and "is not an address" in err
    code, _, err = cli(emulator, "apply", str(path), "--replace", "deployment.gh", "--auto-approve", "--allow-delete")
    assert code == 1 and "refusing to" in err and "protected resource" in err and "deployment.gh" in err


# -- ignore -----------------------------------------------------------------------------------


def write_ignore(path: Path, desc: str = "from YAML", url: str = "https://api.github.com", name: str = "gh",
                 cfg_ignore: str = "[value]") -> None:
    path.write_text(IGNORE_STACK.format(desc=desc, url=url, name=name, cfg_ignore=cfg_ignore))


def test_ignored_fields_are_sent_on_create_then_left_to_the_dashboard(emulator: EmulatorProcess,
                                                                      tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    write_ignore(path)
    ok(emulator, "apply", str(path), "--auto-approve")
    dep = active(emulator)["deployment"]
    assert dep["description"] == "from YAML" and dep["metadata"]["team"] == "yaml"  # sent on create
    dashboard_edit(emulator, dep, description="from the dashboard", metadata=dep["metadata"] | {"team": "dash"})
    code, out, _ = cli(emulator, "plan", str(path), "--detailed-exitcode")
    assert code == 0, out  # an ignored field changed outside: nothing to do, no drift
    assert "Note: deployment.gh: ignored: description, metadata" in out
    assert "Note: config.gh-cfg: ignored: value" in out
    write_ignore(path, desc="edited in YAML", url="https://ghe.example.com/api/v3")
    assert cli(emulator, "plan", str(path), "--detailed-exitcode")[0] == 0  # nor in the YAML
    dashboard_edit(emulator, dep, name="renamed in the dashboard")  # not ignored: drift
    code, out, _ = cli(emulator, "plan", str(path), "--detailed-exitcode")
    assert code == 2 and "~ deployment.gh" in out and "changed outside metorial-apply" in out
    assert "description" not in out.split("Plan:")[1].split("Note:")[0]  # no diff line for it
    ok(emulator, "apply", str(path), "--auto-approve")
    dep = active(emulator)["deployment"]
    assert dep["name"] == "gh"  # restored
    assert dep["description"] == "from the dashboard"  # never sent on update
    assert dep["metadata"]["team"] == "dash" and dep["metadata"]["metorial-apply/stack"] == STACK
    assert cli(emulator, "plan", str(path), "--detailed-exitcode")[0] == 0
    # the stamp's spec-hash left the ignored fields out: a YAML change now is no drift
    write_ignore(path, desc="edited in YAML", url="https://ghe.example.com/api/v3", name="GitHub")
    code, out, _ = cli(emulator, "plan", str(path), "--detailed-exitcode")
    assert code == 2 and "name changed" in out and "outside metorial-apply" not in out


def test_the_ignore_note_is_in_json_and_markdown(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    write_ignore(path)
    notes = json.loads(ok(emulator, "plan", str(path), "--json"))["notes"]
    assert {"address": "deployment.gh", "text": "ignored: description, metadata"} in notes
    assert {"address": "config.gh-cfg", "text": "ignored: value"} in notes
    markdown = ok(emulator, "plan", str(path), "--markdown", "-")
    assert "> **Note:** `deployment.gh`: ignored: description, metadata" in markdown


def test_an_ignored_value_changed_in_yaml_is_re_sent_only_with_replace(emulator: EmulatorProcess,
                                                                        tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    write_ignore(path)
    ok(emulator, "apply", str(path), "--auto-approve")
    cfg = active(emulator)["config"]
    write_ignore(path, url="https://ghe.example.com/api/v3")
    assert cli(emulator, "plan", str(path), "--detailed-exitcode")[0] == 0
    dashboard_edit(emulator, cfg, name="renamed in the dashboard")
    ok(emulator, "apply", str(path), "--auto-approve")  # an update: the new value is not sent ...
    assert active(emulator)["config"]["id"] == cfg["id"]
    # ... so its stamp keeps the fingerprint of the value last sent: without `ignore` it differs
    write_ignore(path, url="https://ghe.example.com/api/v3", cfg_ignore="[]")
    code, out, _ = cli(emulator, "plan", str(path), "--detailed-exitcode")
    assert code == 3 and "-/+ config.gh-cfg" in out and "value changed (secret)" in out
    write_ignore(path, url="https://ghe.example.com/api/v3")
    old = cfg["id"]
    ok(emulator, "apply", str(path), "--replace", "config.gh-cfg", "--auto-approve", "--allow-delete")
    assert active(emulator)["config"]["id"] != old
    assert cli(emulator, "plan", str(path), "--detailed-exitcode")[0] == 0


def test_a_saved_plan_is_stale_once_the_ignore_list_changes(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path, saved = tmp_path / "stack.yaml", tmp_path / "plan.json"
    write_ignore(path)
    ok(emulator, "plan", str(path), "--out", str(saved))
    write_ignore(path, cfg_ignore="[value, name]")  # the same changes, but another reviewed intent
    code, _, err = cli(emulator, "apply", str(saved), "--auto-approve")
    assert code == 1 and "configuration changed since the plan was made" in err
    assert emulator.objects(STACK) == []
