"""`imports:`, `moved:`, `removed:` and the look-alike note through the real CLI against a
real-HTTP emulator: objects made by hand (httpx, no stamp) are adopted without a create."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from tests.apply.conftest import run_cli
from tests.bookkeeping import active, creates, reset_stats
from tests.emulator_server import SECRET_KEY, EmulatorProcess

AUTH = {"Authorization": f"Bearer {SECRET_KEY}"}
PREFIX = "metorial-apply/"


def env(server: EmulatorProcess) -> dict[str, str]:
    return {"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY}


def by_hand(server: EmulatorProcess, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{server.url}{path}", json=body, headers=AUTH, timeout=10)
    response.raise_for_status()
    return response.json()


def get(server: EmulatorProcess, path: str, id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}{path}/{id}", headers=AUTH, timeout=10)
    response.raise_for_status()
    return response.json()


def cli(server: EmulatorProcess, *args: str) -> Any:
    return run_cli(list(args), env=env(server))


def hand_made(server: EmulatorProcess) -> tuple[str, str]:
    """A deployment and a config made in the "dashboard": no stamp, user metadata kept."""
    dep = by_hand(server, "/provider-deployments", {"name": "github", "provider_id": "github",
                                                     "metadata": {"team": "support"}})
    cfg = by_hand(server, "/provider-configs", {"name": "gh-cfg", "provider_deployment_id": dep["id"],
                                                "provider_id": "github",
                                                "value": {"base_url": "https://api.github.com"}})
    return dep["id"], cfg["id"]


CONFIG = """\
stack: {stack}
deployments:
  github: {{provider: github, description: {desc}, metadata: {{team: support}}}}
configs:
  gh-cfg: {{deployment: github, value: {{base_url: "https://api.github.com"}}}}
imports:
  - {{to: deployment.github, id: {dep}}}
  - {{to: config.gh-cfg, id: {cfg}}}
"""


def write_imports(path: Path, dep: str, cfg: str, stack: str = "imp", desc: str = "Tools") -> Path:
    path.write_text(CONFIG.format(stack=stack, desc=desc, dep=dep, cfg=cfg))
    return path


def test_hand_made_objects_are_imported_with_no_create_and_the_next_plan_is_empty(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    dep, cfg = hand_made(emulator)
    path = write_imports(tmp_path / "stack.yaml", dep, cfg)
    mark = reset_stats(emulator)
    plan = cli(emulator, "plan", str(path), "--detailed-exitcode")
    assert plan.code == 2, plan.out + plan.err
    # the live read's lists serve the imports: no GET of one object, no write
    assert all(k.startswith("GET ") and "{id}" not in k for k in emulator.stats()["calls"]), emulator.stats()
    assert "<= deployment.github" in plan.out and f"adopt {dep}" in plan.out and "description" in plan.out
    assert "to import" in plan.out and "config's value cannot be read" not in plan.out
    assert "value cannot be read from the API" in plan.out  # the secret is taken as live, compared from now on
    mark = reset_stats(emulator)
    before = active(emulator)
    applied = cli(emulator, "apply", str(path), "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert creates(emulator, mark) == 0 and active(emulator) == before, emulator.stats()["calls"]
    assert emulator.stats()["calls"]["PATCH /provider-deployments/{id}"] == 1
    live = get(emulator, "/provider-deployments", dep)
    assert live["metadata"]["team"] == "support" and live["metadata"][PREFIX + "address"] == "deployment.github"
    assert live["description"] == "Tools"
    assert get(emulator, "/provider-configs", cfg)["metadata"][PREFIX + "stack"] == "imp"
    again = cli(emulator, "plan", str(path), "--detailed-exitcode")  # the imports block stays: a no-op
    assert again.code == 0, again.out + again.err



def test_an_object_of_another_stack_needs_takeover_then_exits_3_and_needs_allow_delete_in_ci(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("stack: other\ndeployments:\n  github: {provider: github}\n")
    assert cli(emulator, "apply", str(other), "--auto-approve").code == 0
    dep = next(o["id"] for o in emulator.objects("other") if o["kind"] == "deployment")
    path = tmp_path / "mine.yaml"
    path.write_text(f"stack: mine\ndeployments:\n  github: {{provider: github}}\nimports:\n"
                    f"  - {{to: deployment.github, id: {dep}}}\n")
    refused = cli(emulator, "plan", str(path), "--detailed-exitcode")
    assert refused.code == 1, refused.out + refused.err
    assert f"mine.yaml:5: imports[0]: {dep} is managed by stack 'other'" in refused.err
    assert "--takeover" in refused.err and "Traceback" not in refused.err
    plan = cli(emulator, "plan", str(path), "--takeover", "--detailed-exitcode")
    assert plan.code == 3, plan.out + plan.err
    assert "<=! deployment.github" in plan.out and "take over" in plan.out and "--allow-delete" in plan.out
    blocked = cli(emulator, "apply", str(path), "--takeover", "--auto-approve")
    assert blocked.code != 0 and "needs --allow-delete" in blocked.err
    assert get(emulator, "/provider-deployments", dep)["metadata"][PREFIX + "stack"] == "other"
    done = cli(emulator, "apply", str(path), "--takeover", "--allow-delete", "--auto-approve")
    assert done.code == 0, done.out + done.err
    assert get(emulator, "/provider-deployments", dep)["metadata"][PREFIX + "stack"] == "mine"
    assert cli(emulator, "plan", str(path), "--detailed-exitcode").code == 0


MOVE = """\
stack: mv
deployments:
  {dep}: {{provider: github}}
configs:
  cfg: {{deployment: {dep}, value: {{base_url: "https://api.github.com"}}}}
"""


def test_moved_keeps_the_id_renames_and_repoints_references_by_name(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(MOVE.format(dep="gh"))
    assert cli(emulator, "apply", str(path), "--auto-approve").code == 0
    ids = {o["kind"]: o["id"] for o in emulator.objects("mv")}
    path.write_text(MOVE.format(dep="github") + "moved:\n  - {from: deployment.gh, to: deployment.github}\n")
    plan = cli(emulator, "plan", str(path), "--detailed-exitcode")
    assert plan.code == 2, plan.out + plan.err
    assert "-> deployment.github" in plan.out and "moved from deployment.gh" in plan.out
    assert "config.cfg" not in plan.out.split("Plan:")[1]  # its reference reads as the new name: unchanged
    mark = reset_stats(emulator)
    assert cli(emulator, "apply", str(path), "--auto-approve").code == 0
    calls = emulator.stats()["calls"]
    assert creates(emulator, mark) == 0 and "DELETE /provider-deployments/{id}" not in calls
    assert calls["PATCH /provider-deployments/{id}"] == 1
    live = get(emulator, "/provider-deployments", ids["deployment"])
    assert live["status"] == "active" and live["name"] == "github"
    assert live["metadata"][PREFIX + "address"] == "deployment.github"
    assert {o["kind"]: o["id"] for o in emulator.objects("mv", status="active")} == ids
    assert cli(emulator, "plan", str(path), "--detailed-exitcode").code == 0


TOGETHER = """\
stack: mv2
deployments:
  {dep}: {{provider: github}}
configs:
  {cfg}: {{deployment: {dep}, value: {{base_url: "https://api.github.com"}}}}
auth_configs:
  tok: {{deployment: {dep}, method: token, value: {{token: "t0k-0123456789"}}}}
session_templates:
  t: {{providers: [{{deployment: {dep}, config: {cfg}, auth_config: tok}}]}}
"""


def test_moving_a_deployment_with_its_config_is_no_drift_but_a_hand_edit_still_is(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    """Issue 23 item 5: the config moved with its deployment read as "also changed outside
    metorial-apply", since its live reference names the deployment's new address."""
    path = tmp_path / "stack.yaml"
    path.write_text(TOGETHER.format(dep="gh", cfg="c"))
    assert cli(emulator, "apply", str(path), "--auto-approve").code == 0
    path.write_text(TOGETHER.format(dep="gh2", cfg="c2") + "moved:\n  - {from: deployment.gh, to: deployment.gh2}\n"
                    "  - {from: config.c, to: config.c2}\n")
    plan = cli(emulator, "plan", str(path))
    assert "-> config.c2" in plan.out and "changed outside" not in plan.out, plan.out
    config = next(o for o in emulator.objects("mv2") if o["kind"] == "config")
    httpx.patch(f"{emulator.url}/provider-configs/{config['id']}", json={"description": "by hand"}, headers=AUTH,
                timeout=10).raise_for_status()
    drifted = cli(emulator, "plan", str(path))
    assert "moved from config.c; description, name changed; also changed outside metorial-apply" in drifted.out
    assert cli(emulator, "apply", str(path), "--auto-approve").code == 0
    assert cli(emulator, "plan", str(path), "--detailed-exitcode").code == 0


def test_removed_forgets_the_object_keeping_it_and_the_users_metadata(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text("stack: rm\ndeployments:\n  old: {provider: github, metadata: {team: support}}\n"
                    "  keep: {provider: github}\n")
    assert cli(emulator, "apply", str(path), "--auto-approve").code == 0
    old = next(o["id"] for o in emulator.objects("rm") if o["name"] == "old")
    path.write_text("stack: rm\ndeployments:\n  keep: {provider: github}\nremoved:\n  - {from: deployment.old}\n")
    plan = cli(emulator, "plan", str(path), "--detailed-exitcode")
    assert plan.code == 2, plan.out + plan.err  # a forget deletes nothing: not exit 3
    assert "-x deployment.old" in plan.out and "1 to forget" in plan.out
    applied = cli(emulator, "apply", str(path), "--auto-approve")  # CI, no --allow-delete: not needed
    assert applied.code == 0, applied.out + applied.err
    live = get(emulator, "/provider-deployments", old)
    assert live["status"] == "active" and live["metadata"] == {"team": "support"}
    assert cli(emulator, "plan", str(path), "--detailed-exitcode").code == 0


def test_look_alike_note_for_a_name_match_only(emulator: EmulatorProcess, tmp_path: Path) -> None:
    dep = by_hand(emulator, "/provider-deployments", {"name": "github", "provider_id": "github"})["id"]
    path = tmp_path / "stack.yaml"
    path.write_text("stack: la\ndeployments:\n  github: {provider: github}\n  gitlab: {provider: github}\n")
    text = cli(emulator, "plan", str(path))
    note = (f"an unmanaged deployment named github exists ({dep}); to adopt it, add "
            f"`imports: [{{to: deployment.github, id: {dep}}}]`")
    assert f"Note: deployment.github: {note}" in text.out
    assert "deployment.gitlab:" not in text.out and text.out.count("Note:") == 1
    doc = json.loads(cli(emulator, "plan", str(path), "--json").out)
    assert doc["notes"] == [{"address": "deployment.github", "text": note}]
    md = cli(emulator, "plan", str(path), "--markdown", "-").out
    assert "unmanaged deployment named github exists" in md and "deployment.gitlab`:" not in md


BAD_BLOCKS = """\
stack: bad
deployments:
  github: {provider: github}
  new: {provider: github}
  kept: {provider: github}
imports:
  - {to: deployment.github, id: pde_1}
  - {to: deployment.github, id: pde_2}
  - {to: deployment.nowhere, id: pde_3}
  - {to: deployment.github}
  - not a mapping
moved:
  - {from: deployment.kept, to: deployment.new}
  - {from: deployment.a, to: deployment.new}
  - {from: deployment.b, to: deployment.new}
  - {from: deployment.x, to: deployment.y}
  - {from: deployment.y, to: deployment.x}
  - {from: deployment.c, to: config.c}
removed:
  - {from: deployment.kept}
"""


def test_every_offline_error_is_reported_at_file_line_before_any_network(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_BLOCKS)
    result = run_cli(["plan", str(path), "--api-url", "http://127.0.0.1:9"])  # nothing listens: never reached
    assert result.code == 1 and "Traceback" not in result.err
    for expected in [
        "bad.yaml:8: imports[1]: two imports to deployment.github: here and at",
        "bad.yaml:9: imports[2]: import to deployment.nowhere, which the configuration does not declare",
        "bad.yaml:10: imports[3]: missing id",
        "bad.yaml:11: imports[4]: each imports entry must be a mapping",
        "bad.yaml:13: moved[0]: moved from deployment.kept, which the configuration still declares",
        "bad.yaml:15: moved[2]: two moves to deployment.new: here and at",
        "moves form a cycle: deployment.x → deployment.y → deployment.x",
        "bad.yaml:18: moved[5]: cannot move deployment.c to config.c: the kind differs",
        "bad.yaml:20: removed[0]: removed deployment.kept, which the configuration still declares",
    ]:
        assert expected in result.err, f"{expected!r} not in:\n{result.err}"
    assert "connect" not in result.err.lower()


def test_chains_of_moves_are_followed(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text("stack: ch\ndeployments:\n  a: {provider: github}\n")
    assert cli(emulator, "apply", str(path), "--auto-approve").code == 0
    path.write_text("stack: ch\ndeployments:\n  c: {provider: github}\nmoved:\n"
                    "  - {from: deployment.a, to: deployment.b}\n  - {from: deployment.b, to: deployment.c}\n")
    plan = cli(emulator, "plan", str(path))
    assert plan.code == 0 and "-> deployment.c" in plan.out and "moved from deployment.a" in plan.out, plan.err


def test_online_errors_name_the_entry_and_the_kind(emulator: EmulatorProcess, tmp_path: Path) -> None:
    dep, _ = hand_made(emulator)
    mine = tmp_path / "mine.yaml"
    mine.write_text("stack: onl\ndeployments:\n  gh: {provider: github}\n")
    assert cli(emulator, "apply", str(mine), "--auto-approve").code == 0
    ours = next(o["id"] for o in emulator.objects("onl"))
    path = tmp_path / "stack.yaml"
    path.write_text(f"stack: onl\ndeployments:\n  gh: {{provider: github}}\n  github: {{provider: github}}\n"
                    f"configs:\n  c: {{deployment: github, value: {{base_url: x}}}}\nimports:\n"
                    f"  - {{to: config.c, id: {dep}}}\n  - {{to: deployment.github, id: pde_doesnotexist}}\n"
                    f"  - {{to: deployment.gh, id: {ours}}}\n")
    result = cli(emulator, "plan", str(path))
    assert result.code == 1 and "Traceback" not in result.err
    assert f"stack.yaml:8: imports[0]: {dep} is a deployment, not a config" in result.err
    assert "stack.yaml:9: imports[1]: no deployment with id pde_doesnotexist exists" in result.err
    assert "imports[2]" not in result.err  # already ours at that address: a no-op
    path.write_text(f"stack: onl\ndeployments:\n  gh2: {{provider: github}}\nimports:\n"
                    f"  - {{to: deployment.gh2, id: {ours}}}\n")
    moved = cli(emulator, "plan", str(path))
    assert moved.code == 1 and f"{ours} is already managed by this stack as deployment.gh" in moved.err
    assert "moved:" in moved.err


def test_saved_plans_cover_imports_and_moves(emulator: EmulatorProcess, tmp_path: Path) -> None:
    dep, cfg = hand_made(emulator)
    path, saved = write_imports(tmp_path / "stack.yaml", dep, cfg), tmp_path / "plan.json"
    assert cli(emulator, "plan", str(path), "--out", str(saved)).code == 0
    old = json.loads(saved.read_text())
    assert [c["action"] for c in old["changes"]] == ["import", "import"]
    httpx.patch(f"{emulator.url}/provider-deployments/{dep}", json={"description": "by hand"},
                headers=AUTH).raise_for_status()  # the imported object changes after the plan
    stale = cli(emulator, "apply", str(saved), "--auto-approve")
    assert stale.code == 1 and "deployment.github (changed)" in stale.err, stale.err
    assert cli(emulator, "plan", str(path), "--out", str(saved)).code == 0
    path.write_text(path.read_text().replace(f"  - {{to: config.gh-cfg, id: {cfg}}}\n", ""))
    # the imports block lost an entry, nothing else changed: the desired digest says so
    changed = cli(emulator, "apply", str(saved), "--auto-approve")
    assert changed.code == 1 and "configuration changed since the plan was made" in changed.err
    write_imports(path, dep, cfg)
    mark = reset_stats(emulator)
    done = cli(emulator, "apply", str(saved), "--auto-approve")
    assert done.code == 0 and creates(emulator, mark) == 0, done.out + done.err
    renamed = path.read_text().replace("  github:", "  gh:").replace("deployment: github", "deployment: gh")
    path.write_text(renamed.replace("deployment.github", "deployment.gh")
                    + "moved:\n  - {from: deployment.github, to: deployment.gh}\n")
    assert cli(emulator, "plan", str(path), "--out", str(saved)).code == 0
    assert [c["moved_from"] for c in json.loads(saved.read_text())["changes"] if c["action"] == "move"] == [
        "deployment.github"]
    done = cli(emulator, "apply", str(saved), "--auto-approve")
    assert done.code == 0, done.out + done.err
    assert get(emulator, "/provider-deployments", dep)["metadata"][PREFIX + "address"] == "deployment.gh"
    assert cli(emulator, "plan", str(path), "--detailed-exitcode").code == 0


def test_a_format_1_saved_plan_is_refused_with_a_clear_message(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path, saved = tmp_path / "stack.yaml", tmp_path / "plan.json"
    path.write_text("stack: old\ndeployments:\n  github: {provider: github}\n")
    assert cli(emulator, "plan", str(path), "--out", str(saved)).code == 0
    for older in (1, 2):  # 2: api key changes came after every other change (before one graph ordered them)
        saved.write_text(re.sub(r'"format_version": [0-9]+', f'"format_version": {older}', saved.read_text()))
        result = cli(emulator, "apply", str(saved), "--auto-approve")
        assert result.code == 1 and f"saved plan format {older} is not supported (this version reads format 3)" \
            in result.err


def test_an_import_whose_patch_response_is_lost_converges_on_the_next_run(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    dep, cfg = hand_made(emulator)
    path, journal = write_imports(tmp_path / "stack.yaml", dep, cfg), tmp_path / "j.jsonl"
    mark = reset_stats(emulator)
    before = active(emulator)
    emulator.faults(error_after_commit_next=1, next_path="/provider-configs")  # the stamp lands, the answer is a 500
    first = cli(emulator, "apply", str(path), "--auto-approve", "--journal", str(journal))
    assert emulator.stats()["faults"]["error_after_commit"] == 1
    assert journal.read_text().count("config.gh-cfg") >= 1, first.out + first.err
    second = cli(emulator, "apply", str(path), "--auto-approve")
    assert second.code == 0, second.out + second.err
    assert creates(emulator, mark) == 0 and active(emulator) == before
    assert get(emulator, "/provider-configs", cfg)["metadata"][PREFIX + "address"] == "config.gh-cfg"
    assert cli(emulator, "plan", str(path), "--detailed-exitcode").code == 0


CANARY = "canary-imports-3b9f-never-print-me"


def test_importing_credentials_takes_their_secret_as_live_and_never_prints_it(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    made = by_hand(emulator, "/provider-auth-credentials", {
        "provider_id": "github", "name": "app",
        "config": {"type": "oauth", "client_id": "Iv1.hand", "client_secret": "old-secret", "scopes": ["repo"]}})
    path = tmp_path / "stack.yaml"
    path.write_text("stack: cr\nauth_credentials:\n  app:\n    provider: github\n    client_id: Iv1.hand\n"
                    "    client_secret: \"${env:APP_SECRET}\"\n    scopes: [repo]\n"
                    f"imports:\n  - {{to: auth_credentials.app, id: {made['id']}}}\n")
    run_env = env(emulator) | {"APP_SECRET": CANARY}
    plan = run_cli(["plan", str(path)], env=run_env)
    assert plan.code == 0 and "the configured value is taken as the live one" in plan.out
    applied = run_cli(["apply", str(path), "--auto-approve"], env=run_env)
    assert applied.code == 0, applied.out + applied.err
    assert CANARY not in plan.out + plan.err + applied.out + applied.err
    assert run_cli(["plan", str(path), "--detailed-exitcode"], env=run_env).code == 0
    changed = run_cli(["plan", str(path), "--detailed-exitcode"], env=run_env | {"APP_SECRET": "another"})
    assert changed.code == 3  # compared from now on: a new client is new credentials (the API keeps it on PATCH)


def test_an_import_that_would_need_a_replace_is_refused(emulator: EmulatorProcess, tmp_path: Path) -> None:
    dep = by_hand(emulator, "/provider-deployments", {"name": "chat", "provider_id": "github"})["id"]
    path = tmp_path / "stack.yaml"
    path.write_text(f"stack: rp\ndeployments:\n  chat: {{provider: slack}}\nimports:\n"
                    f"  - {{to: deployment.chat, id: {dep}}}\n")
    result = cli(emulator, "plan", str(path))
    assert result.code == 1 and "cannot import, the object would be replaced" in result.err, result.err
    assert "provider is create-only" in result.err and "Traceback" not in result.err



def test_one_id_in_two_imports_is_an_error_at_its_line_before_any_network(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text("stack: s\ndeployments:\n  a: {provider: github}\n  b: {provider: github}\nimports:\n"
                    "  - {to: deployment.a, id: pde_1}\n  - {to: deployment.b, id: pde_1}\n")
    result = run_cli(["plan", str(path), "--api-url", "http://127.0.0.1:9"])  # nothing listens: never reached
    assert result.code == 1 and "Traceback" not in result.err
    assert ("twice.yaml:7: imports[1]: pde_1 is imported twice: to deployment.b here and to deployment.a at "
            f"{path}:6") in result.err, result.err


ENVIRONMENTS = """\
stack: ${var.env}
deployments:
  github: {provider: github}
imports:
  - {to: deployment.github, id: "${var.github_id}"}
"""


def test_import_ids_from_variables_let_one_base_serve_two_environments(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    """Issue 23 item 2: an import written for production made staging's plan fail. Now each var
    file gives its environment's id, and an empty one imports nothing there."""
    made = by_hand(emulator, "/provider-deployments", {"name": "github", "provider_id": "github"})
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "stack.yaml").write_text(ENVIRONMENTS)
    (tmp_path / "production.yaml").write_text(f"env: production\ngithub_id: {made['id']}\n")
    (tmp_path / "staging.yaml").write_text('env: staging\ngithub_id: ""\n')
    base = str(tmp_path / "base")
    production = cli(emulator, "plan", base, "--var-file", str(tmp_path / "production.yaml"), "--detailed-exitcode")
    assert production.code == 2 and "<= deployment.github" in production.out, production.out + production.err
    staging = cli(emulator, "plan", base, "--var-file", str(tmp_path / "staging.yaml"), "--detailed-exitcode")
    assert staging.code == 2 and "+ deployment.github" in staging.out, staging.out + staging.err
    for env_file in ("production.yaml", "staging.yaml"):
        assert cli(emulator, "apply", base, "--var-file", str(tmp_path / env_file), "--auto-approve").code == 0
        again = cli(emulator, "plan", base, "--var-file", str(tmp_path / env_file), "--detailed-exitcode")
        assert again.code == 0, again.out + again.err
    assert get(emulator, "/provider-deployments", made["id"])["metadata"][PREFIX + "stack"] == "production"


def test_an_import_id_from_a_secret_or_an_undefined_variable_is_refused(tmp_path: Path) -> None:
    secret_var = 'variables: {github_id: "${env:GH_ID}"}\n'
    (tmp_path / "stack.yaml").write_text(ENVIRONMENTS.replace("${var.env}", "s") + secret_var)
    secret = run_cli(["validate", str(tmp_path)], env={"GH_ID": "pde_1"})
    assert secret.code == 1 and "imports[0]: id: an import id may not come from a secret" in secret.err, secret.err
    (tmp_path / "stack.yaml").write_text(ENVIRONMENTS.replace("${var.env}", "s"))
    undefined = run_cli(["validate", str(tmp_path)])
    assert undefined.code == 1 and "imports[0]: id: variable github_id is not defined" in undefined.err, undefined.err
