"""The GitHub recipes (examples/ci/github/) over a workspace: examples/org in a git repository,
planned and applied against `emulator serve` through the composite action (action.yml), with a
fake `gh` that records every call. Comments are found by marker among the bot's own only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.ci import forge as fake
from tests.ci.workspace_repo import PULL, Repo, leaked, make_repo
from tests.emulator_server import SECRET_KEY, EmulatorProcess

COMBINED = "<!-- metorial-apply:acme -->"


@pytest.fixture
def repo(tmp_path: Path, emulator: EmulatorProcess) -> Repo:
    return make_repo(tmp_path, emulator.url, SECRET_KEY)


def change_staging_slack(repo: Repo, workspace: str = "acme-staging-2") -> None:
    path = repo.cwd / "envs" / "support" / "staging.yaml"
    path.write_text(path.read_text().replace("slack_workspace: acme-staging", f"slack_workspace: {workspace}"))


def bot_comments(repo: Repo) -> list[dict]:
    return [c for c in repo.store()["comments"] if c["author"] == fake.BOT and c["on"] == PULL]


def test_plan_keeps_one_combined_comment_edited_in_place(repo: Repo) -> None:
    change_staging_slack(repo)
    repo.commit("staging slack")
    store = repo.store()  # a PR author plants the marker: it must be neither edited nor counted
    fake.add_comment(store, PULL, "mallory", f"{COMBINED}\n<!-- metorial-apply:plan support/staging sha256:0 -->")
    repo.save(store)
    runs = [repo.workflow("plan.yml"), repo.workflow("plan.yml")]
    for run in runs:
        assert run["validate"][0].ok and run["plan"][0].ok, run["plan"][0].logs
        assert run["plan"][0].steps["plan"]["outputs"]["exitcode"] == "2"
    ours = bot_comments(repo)
    assert len(ours) == 1 and ours[0]["body"].startswith(COMBINED)
    checksum = repo.saved_checksum("support.staging")
    assert f"<!-- metorial-apply:plan support/staging {checksum} -->" in ours[0]["body"]
    assert "support/production" not in ours[0]["body"]  # only the changed unit
    writes = [(c["method"], c["path"]) for c in repo.calls() if c["method"] != "GET" and "comments" in c["path"]]
    assert writes == [("POST", "repos/acme/infra/issues/7/comments"), ("PATCH", "repos/acme/infra/issues/comments/2")]
    assert repo.store()["comments"][0]["body"].endswith("sha256:0 -->")  # mallory's, untouched
    assert leaked(repo, runs) == []



def test_a_failed_plan_puts_its_error_in_the_comment_and_fails_the_job(repo: Repo) -> None:
    change_staging_slack(repo)
    repo.commit("staging slack")
    assert repo.workflow("plan.yml")["plan"][0].ok
    path = repo.cwd / "envs" / "support" / "staging.yaml"
    path.write_text(path.read_text().replace('slack_deployment_id: ""', "slack_deployment_id: pde_missing0000"))
    repo.commit("import an object that does not exist")  # valid offline; the plan fails
    failed = repo.workflow("plan.yml")["plan"][0]
    assert not failed.ok and failed.steps["plan"]["outputs"]["exitcode"] == "1"
    body = bot_comments(repo)[0]["body"]
    assert len(bot_comments(repo)) == 1 and "support/staging" in body
    assert "metorial-apply:plan support/staging" not in body  # no plan line: nothing to apply from it
    assert "pde_missing0000" in body, body[:2000]


def test_fork_pull_requests_get_validate_alone(repo: Repo) -> None:
    change_staging_slack(repo)
    repo.commit("staging slack")
    run = repo.workflow("plan.yml", head_repo="someone/fork")
    assert run["validate"][0].ok and not run["plan"][0].ran
    assert repo.calls() == []


def test_matrix_plans_each_changed_unit_with_its_own_comment(repo: Repo) -> None:
    shared = repo.cwd / "shared" / "common.yaml"
    shared.write_text(shared.read_text().replace("#support-escalations", "#support-urgent"))
    repo.commit("shared channel")  # both support units read it; engineering does not
    runs = [repo.workflow("matrix.yml"), repo.workflow("matrix.yml")]
    for run in runs:
        assert run["stacks"][0].ok and run["stacks"][0].outputs["count"] == "2", run["stacks"][0].logs
        assert [leg.matrix["name"] for leg in run["plan"]] == ["support/staging", "support/production"]
        assert all(leg.ok for leg in run["plan"]), run["plan"][0].logs
    markers = sorted(c["body"].split("\n", 1)[0] for c in bot_comments(repo))
    assert markers == ["<!-- metorial-apply:support/production -->", "<!-- metorial-apply:support/staging -->"]
    assert not any(c["body"].startswith(COMBINED) for c in bot_comments(repo))
    patches = [c for c in repo.calls() if c["method"] == "PATCH"]
    assert len(patches) == 2  # the second run edited both
    plan_log = runs[0]["plan"][0].logs
    assert "--rate-limit 25%" in plan_log or "share 25% is not enforced" in plan_log
    assert leaked(repo, runs) == []


def test_apply_refuses_a_merged_plan_that_differs_from_the_reviewed_one(repo: Repo) -> None:
    change_staging_slack(repo)
    repo.commit("staging slack")
    assert repo.workflow("plan.yml")["plan"][0].ok
    reviewed = repo.saved_checksum("support.staging")
    change_staging_slack(repo, "acme-staging-3")  # pushed after the review, never planned on the PR
    repo.commit("unreviewed")
    before, sha = repo.merge("feature", PULL)
    refused = repo.workflow("apply.yml", sha=sha, before=before)["apply"][0]
    assert not refused.ok and "differs from the plan reviewed on #7" in refused.logs
    assert not (repo.cwd / ".metorial-apply" / "ci" / "support.staging.jsonl").exists()  # nothing applied
    body = bot_comments(repo)[0]["body"]
    assert len(bot_comments(repo)) == 1 and reviewed not in body
    assert f"<!-- metorial-apply:plan support/staging {repo.saved_checksum('support.staging')} -->" in body
    rerun = repo.workflow("apply.yml", sha=sha, before=before)
    assert rerun["apply"][0].ok, rerun["apply"][0].logs  # the posted plan is now the reviewed one
    assert (repo.cwd / ".metorial-apply" / "ci" / "support.staging.jsonl").exists()
    assert repo.cli("plan", "support/staging", "--detailed-exitcode").returncode == 0
    assert leaked(repo, [rerun]) == []


def remove_templates(repo: Repo) -> None:
    path = repo.cwd / "stacks" / "support" / "stack.yaml"
    path.write_text(path.read_text().split("session_templates:")[0])


def test_a_destructive_apply_needs_an_approval_after_the_plan_by_someone_else(repo: Repo) -> None:
    change_staging_slack(repo)
    repo.commit("staging slack")
    assert repo.workflow("plan.yml")["plan"][0].ok
    before, sha = repo.merge("feature", PULL)
    assert repo.workflow("apply.yml", sha=sha, before=before)["apply"][0].ok
    git_branch(repo, "drop-templates")
    remove_templates(repo)
    repo.commit("drop the support templates")
    planned = repo.workflow("plan.yml", pull="8")["plan"][0]
    assert planned.steps["plan"]["outputs"]["exitcode"] == "3" and repo.store()["labels"]["8"] == ["destructive"]
    store = repo.store()
    fake.add_review(store, "8", "bob", "APPROVED")  # the author's own approval does not count
    repo.save(store)
    before, sha = repo.merge("drop-templates", "8", author="bob")
    refused = repo.workflow("apply.yml", sha=sha, before=before)["apply"][0]
    assert not refused.ok and "needs an approving review of #8" in refused.logs
    assert repo.cli("plan", "support/staging", "--detailed-exitcode").returncode == 3  # not applied
    store = repo.store()
    fake.add_review(store, "8", "alice", "APPROVED")
    repo.save(store)
    approved = repo.workflow("apply.yml", sha=sha, before=before)["apply"][0]
    assert approved.ok and "approved by alice" in approved.logs, approved.logs
    assert repo.cli("plan", "support/staging", "--detailed-exitcode").returncode == 0


def git_branch(repo: Repo, name: str) -> None:
    from tests.ci.workspace_repo import git

    git(repo.cwd, "checkout", "-q", "-b", name, "main")


def drift_issues(repo: Repo) -> list[dict]:
    return [i for i in repo.store()["issues"] if "metorial-drift" in i["labels"]]


def test_drift_keeps_one_issue_per_drifted_unit_and_closes_it_when_clean(repo: Repo, tmp_path: Path) -> None:
    for unit in ("support/staging", "support/production", "engineering/staging", "engineering/production"):
        applied = repo.cli("apply", unit, "--auto-approve")
        assert applied.returncode == 0, applied.stdout + applied.stderr
    elsewhere = tmp_path / "elsewhere"  # someone applies other descriptions from another checkout
    shutil.copytree(repo.cwd, elsewhere)
    team = elsewhere / "envs" / "engineering" / "production.yaml"
    team.write_text(team.read_text().replace("env: production", "env: hotfix"))
    assert repo.cli("apply", "engineering/production", "--auto-approve", cwd=elsewhere).returncode == 0
    store = repo.store()
    store["runs"].append({"conclusion": "success", "url": "https://ci.example/runs/1"})
    repo.save(store)
    first = repo.workflow("drift.yml")
    assert first["drift"][0].ok, first["drift"][0].logs
    [issue] = drift_issues(repo)
    assert issue["title"] == "Drift: engineering/production" and issue["state"] == "open"
    assert "**drift**" in issue["body"] and "hotfix" in issue["body"]
    store = repo.store()
    store["runs"].append({"conclusion": "failure", "url": "https://ci.example/runs/2"})
    repo.save(store)
    second = repo.workflow("drift.yml")
    [again] = drift_issues(repo)  # the same issue, edited
    assert again["number"] == issue["number"] and "**not drift**" in again["body"]
    assert "runs/2" in again["body"]
    assert repo.cli("apply", "engineering/production", "--auto-approve").returncode == 0  # main's YAML again
    third = repo.workflow("drift.yml")
    [closed] = drift_issues(repo)
    assert closed["state"] == "closed" and third["drift"][0].ok
    assert leaked(repo, [first, second, third]) == []
