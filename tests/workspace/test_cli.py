"""The workspace through the real CLI against a real-HTTP emulator: examples/org (two stacks × two
environments) in a git repository: `stacks`, plan of all and of the changed ones, one combined
comment, exit codes, saved plans per stack, apply STACK, imports that differ per environment."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.apply.conftest import Result, copy_example, run_cli
from tests.emulator_server import SECRET_KEY, EmulatorProcess

UNITS = ["support/staging", "support/production", "engineering/staging", "engineering/production"]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com",
                    "-c", "commit.gpgsign=false", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def org(tmp_path: Path) -> Path:
    """examples/org committed on `main`, checked out on a branch `change`."""
    repo = copy_example("org", tmp_path)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "change")
    return repo


def env(server: EmulatorProcess) -> dict[str, str]:
    apis = {f"METORIAL_{e}_API_URL": server.url for e in ("STAGING", "PRODUCTION")}
    return apis | {f"METORIAL_{e}_API_KEY": SECRET_KEY for e in ("STAGING", "PRODUCTION")}


def cli(repo: Path, server: EmulatorProcess | None, *args: str) -> Result:
    return run_cli(list(args), env=env(server) if server else {}, cwd=repo)


def test_stacks_json_is_a_ci_matrix(org: Path) -> None:
    done = cli(org, None, "stacks", "--json")
    assert done.code == 0, done.err
    rows = json.loads(done.out)["include"]
    assert [r["name"] for r in rows] == UNITS and len(done.out.strip().splitlines()) == 1
    assert rows[1] | {"var_files": None} == {
        "name": "support/production", "entry": "support", "environment": "production", "file": "support.production",
        "workspace": "acme", "path": "stacks/support", "stack": "support-production", "var_files": None,
        "api_url": "", "api_url_env": "METORIAL_PRODUCTION_API_URL", "api_key_env": "METORIAL_PRODUCTION_API_KEY"}


@pytest.mark.parametrize(("edit", "expected"), [
    ("envs/engineering/staging.yaml", ["engineering/staging"]),  # a var file alone
    ("shared/common.yaml", ["support/staging", "support/production"]),  # a shared var file
    ("shared/notes.yaml", ["support/staging", "support/production"]),  # when_modified
    ("stacks/engineering/stack.yaml", ["engineering/staging", "engineering/production"]),
    ("metorial-apply.yaml", UNITS),
    ("README.md", []),
])
def test_changed_since_counts_stack_files_var_files_globs_and_the_workspace(org: Path, edit: str,
                                                                            expected: list[str]) -> None:
    target = org / edit
    target.write_text((target.read_text() if target.exists() else "") + "\n# edited\n")
    if edit != "README.md":
        git(org, "commit", "-qam", "edit") if edit != "shared/notes.yaml" else None
    done = cli(org, None, "stacks", "--changed-since", "main", "--json")
    assert done.code == 0, done.err
    assert [r["name"] for r in json.loads(done.out)["include"]] == expected


def test_changed_since_follows_file_inputs(org: Path) -> None:
    # A stack given as one file reads a certificate beside it: not one of its files, still its input.
    workspace = org / "metorial-apply.yaml"
    one_file = "path: stacks/engineering/stack.yaml"
    workspace.write_text(workspace.read_text().replace("path: stacks/engineering", one_file))
    (org / "stacks" / "engineering" / "certs").mkdir()
    (org / "stacks" / "engineering" / "certs" / "ca.pem").write_text("-----BEGIN-----\n")
    stack = org / "stacks" / "engineering" / "stack.yaml"
    stack.write_text(stack.read_text().replace("value: {team_key:", "value: {ca: '${file:certs/ca.pem}', team_key:"))
    git(org, "add", "-A")
    git(org, "commit", "-qm", "ca")
    git(org, "checkout", "-q", "-b", "later")
    assert cli(org, None, "validate", "engineering/staging").code == 0
    (org / "stacks" / "engineering" / "certs" / "ca.pem").write_text("-----BEGIN-----\nchanged\n")
    done = cli(org, None, "stacks", "--changed-since", "change", "--json")
    assert [r["name"] for r in json.loads(done.out)["include"]] == ["engineering/staging", "engineering/production"]


def test_an_unknown_ref_is_a_usage_error_with_gits_words(org: Path) -> None:
    done = cli(org, None, "plan", "--changed-since", "no-such-branch")
    assert done.code == 64 and "no such revision" in done.err and "no-such-branch" in done.err


def test_plan_all_makes_one_comment_with_a_section_per_stack_and_saved_plans(org: Path,
                                                                            emulator: EmulatorProcess) -> None:
    done = cli(org, emulator, "plan", "--all", "--detailed-exitcode", "--out-dir", "plans", "--markdown", "plan.md")
    assert done.code == 2, done.err
    comment = (org / "plan.md").read_text()
    assert comment.startswith("<!-- metorial-apply:acme -->\n## metorial-apply · acme · 4 stacks · 4 with changes")
    for unit in UNITS:
        saved = json.loads((org / "plans" / f"{unit.replace('/', '.')}.json").read_text())
        assert f"<!-- metorial-apply:plan {unit} {saved['checksum']} -->" in comment
        assert saved["stack"] == unit.replace("/", "-")
    assert "Stacks: 4" in done.out and SECRET_KEY not in done.out + done.err + comment


def test_an_errored_stack_beside_a_changed_one_exits_1_and_is_in_the_comment(org: Path,
                                                                            emulator: EmulatorProcess) -> None:
    broken = org / "stacks" / "engineering" / "stack.yaml"
    broken.write_text(broken.read_text().replace("provider: linear", "provider: linearr"))
    done = cli(org, emulator, "plan", "--all", "--detailed-exitcode", "--markdown", "plan.md")
    assert done.code == 1
    comment = (org / "plan.md").read_text()
    assert "· engineering/staging · plan failed" in comment and "linearr" in comment
    assert "metorial-apply:plan support/staging sha256:" in comment
    assert "2 of 4 stacks failed to plan: engineering/staging, engineering/production" in done.err


def test_one_named_stack_gets_its_own_marker(org: Path, emulator: EmulatorProcess) -> None:
    done = cli(org, emulator, "plan", "support/production", "--markdown", "plan.md")
    assert done.code == 0, done.err
    assert (org / "plan.md").read_text().startswith("<!-- metorial-apply:support/production -->\n")
    assert "Apply with: metorial-apply apply support/production" in done.out


def test_saved_plans_apply_and_apply_by_name_then_everything_is_unchanged(org: Path,
                                                                         emulator: EmulatorProcess) -> None:
    planned = cli(org, emulator, "plan", "support/staging", "support/production", "--out-dir", "plans")
    assert planned.code == 0, planned.err
    plan_env = env(emulator) | {"METORIAL_API_URL": emulator.url, "METORIAL_API_KEY": SECRET_KEY}
    applied = run_cli(["apply", "plans/support.staging.json", "--stack", "support-staging", "--auto-approve"],
                      env=plan_env, cwd=org)
    assert applied.code == 0, applied.err + applied.out
    for unit in ("support/production", "engineering/staging", "engineering/production"):
        done = cli(org, emulator, "apply", unit, "--auto-approve")
        assert done.code == 0, done.err + done.out
    again = cli(org, emulator, "plan", "--all", "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    assert again.out.count("no changes") == 4


def test_imports_that_differ_per_environment_both_plan_cleanly(org: Path, emulator: EmulatorProcess) -> None:
    made = httpx.post(f"{emulator.url}/provider-deployments", headers={"Authorization": f"Bearer {SECRET_KEY}"},
                      json={"name": "slack", "provider_id": "slack"}, timeout=10)
    made.raise_for_status()
    prod = org / "envs" / "support" / "production.yaml"
    prod.write_text(prod.read_text().replace('slack_deployment_id: ""', f'slack_deployment_id: "{made.json()["id"]}"'))
    done = cli(org, emulator, "plan", "support", "--detailed-exitcode", "--json")
    assert done.code == 2, done.err
    stacks = {s["name"]: s["plan"] for s in json.loads(done.out)["stacks"]}
    actions = {n: {c["address"]: c["action"] for c in p["changes"]} for n, p in stacks.items()}
    assert actions["support/production"]["deployment.slack"] == "import"
    assert actions["support/staging"]["deployment.slack"] == "create"


def test_without_a_workspace_a_name_is_just_a_missing_path(tmp_path: Path) -> None:
    done = run_cli(["plan", "support/staging"], cwd=tmp_path)
    assert done.code == 64 and "does not exist (and names no workspace stack)" in done.err
    done = run_cli(["plan", "--all"], cwd=tmp_path)
    assert done.code == 64 and "no metorial-apply.yaml" in done.err


def test_a_stack_whose_api_variable_is_unset_fails_alone(org: Path, emulator: EmulatorProcess) -> None:
    partial: dict[str, Any] = {k: v for k, v in env(emulator).items() if "PRODUCTION" not in k}
    done = run_cli(["plan", "--all", "--detailed-exitcode"], env=partial, cwd=org)
    assert done.code == 1
    assert "support/production: METORIAL_PRODUCTION_API_URL is not set" in done.out
    assert "=== support/staging (stack support-staging) ===\nmetorial-apply plan" in done.out


def test_plan_of_the_changed_stacks_only_after_a_var_file_change(org: Path, emulator: EmulatorProcess) -> None:
    var_file = org / "envs" / "engineering" / "production.yaml"
    var_file.write_text(var_file.read_text().replace("ENGINEERING", "ENGINEERING-2"))
    git(org, "commit", "-qam", "team key")
    done = cli(org, emulator, "plan", "--changed-since", "main", "--markdown", "plan.md", "--detailed-exitcode")
    assert done.code == 2, done.err
    assert "=== engineering/production (stack engineering-production) ===" in done.out
    assert "support/" not in done.out and "engineering/staging" not in done.out
    # Chosen by --changed-since: the combined comment (marker of the workspace), with one section.
    comment = (org / "plan.md").read_text()
    assert comment.startswith("<!-- metorial-apply:acme -->\n## metorial-apply · acme · 1 stack · 1 with changes")
    nothing = cli(org, emulator, "plan", "--changed-since", "HEAD", "--detailed-exitcode")
    assert nothing.code == 0 and "No stacks to plan." in nothing.out


def test_a_path_never_reads_the_workspace_file(org: Path) -> None:
    (org / "metorial-apply.yaml").write_text("workspace: [broken\n")
    done = cli(org, None, "validate", "stacks/engineering", "--var-file", "envs/engineering/staging.yaml",
               "--stack", "eng")
    assert done.code == 0, done.err
    named = cli(org, None, "validate", "engineering/staging")
    assert named.code == 1 and "metorial-apply.yaml:2:1: invalid YAML" in named.err


def test_plan_takes_a_rate_limit_share_for_parallel_matrix_jobs(org: Path, emulator: EmulatorProcess) -> None:
    done = cli(org, emulator, "plan", "support/staging", "--rate-limit", "25%", "--stats")
    assert done.code == 0, done.err
    assert "support/staging: API calls:" in done.err and "429s 0" in done.err
    bad = cli(org, emulator, "plan", "support/staging", "--rate-limit", "lots")
    assert bad.code == 64 and "--rate-limit" in bad.err
