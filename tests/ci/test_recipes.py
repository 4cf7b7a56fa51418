"""The CI recipes in examples/ci/ run: their shell steps, driven as GitHub Actions and GitLab CI
would run them, plan and apply against the emulator, and keep one sticky plan comment per pull
request through a fake `gh`/`glab` that records every call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from metorial_apply.emulator.process import child_env
from tests.apply.conftest import copy_example
from tests.ci.runner import RECIPES, ROOT, fake_bin, run_github_job, run_gitlab_job, shell
from tests.emulator_server import SECRET_KEY, EmulatorProcess

FINGERPRINT_KEY = "ci-recipe-test-fingerprint-key-0123456789abcdef"  # not a secret: test only
MARKER = "<!-- metorial-apply plan: infra/metorial -->"


@pytest.fixture
def repo(tmp_path: Path, emulator: EmulatorProcess) -> dict[str, Any]:
    """A checkout with the quickstart as infra/metorial, a PATH with the fakes, the forge's files."""
    checkout = tmp_path / "checkout"
    copy_example("quickstart", checkout / "infra").rename(checkout / "infra" / "metorial")
    env = {"PATH": f"{fake_bin(tmp_path / 'bin')}:/usr/bin:/bin", "METORIAL_API_URL": emulator.url,
           "FAKE_FORGE_STATE": str(tmp_path / "forge.json"), "FAKE_FORGE_LOG": str(tmp_path / "forge.log"),
           "GITHUB_REPOSITORY": "acme/infra", "HOME": str(tmp_path),
           "METORIAL_APPLY_LOCK_SKEW": "0"}  # one emulator, one clock: no skew for the stack lock to wait out
    return {"cwd": checkout, "env": env, "emulator": emulator, "tmp": tmp_path}


def github_context(head_repo: str = "acme/infra") -> dict[str, Any]:
    return {"github": {"repository": "acme/infra", "token": "ghs_fake_token",
                       "event": {"pull_request": {"number": 7, "head": {"repo": {"full_name": head_repo}}}}},
            "secrets": {"METORIAL_API_KEY": SECRET_KEY, "METORIAL_APPLY_FINGERPRINT_KEY": FINGERPRINT_KEY}}


def forge(repo: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    state, log = Path(repo["env"]["FAKE_FORGE_STATE"]), Path(repo["env"]["FAKE_FORGE_LOG"])
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return (json.loads(state.read_text()) if state.exists() else {"comments": [], "labels": []}), calls


def github_plan(repo: dict[str, Any], head_repo: str = "acme/infra") -> dict[str, Any]:
    context = github_context(head_repo)
    validate = run_github_job("plan.yml", "validate", context, repo["cwd"], repo["env"])
    plan = run_github_job("plan.yml", "plan", context, repo["cwd"], repo["env"])
    assert validate.ok, validate.logs
    return {"validate": validate, "plan": plan}


def test_github_plan_comments_once_then_edits_in_place(repo: dict[str, Any]) -> None:
    first = github_plan(repo)["plan"]
    assert first.ok, first.logs
    assert first.outputs["plan"]["outputs"]["exitcode"] == "2"  # creates
    assert json.loads((repo["cwd"] / "plan.json").read_text())["stack"] == "quickstart"
    second = github_plan(repo)["plan"]
    assert second.ok, second.logs
    store, calls = forge(repo)
    writes = [(c["method"], c["path"]) for c in calls if c["method"] != "GET" and "labels" not in c["path"]]
    assert writes == [("POST", "repos/acme/infra/issues/7/comments"), ("PATCH", "repos/acme/infra/issues/comments/1")]
    assert len(store["comments"]) == 1
    body = store["comments"][0]["body"]
    assert body.startswith(MARKER) and "`quickstart` · 4 create" in body
    assert SECRET_KEY not in json.dumps(calls) and FINGERPRINT_KEY not in json.dumps(calls)


def test_github_fork_pull_requests_get_validate_alone(repo: dict[str, Any]) -> None:
    runs = github_plan(repo, head_repo="someone/fork")
    assert runs["validate"].ok and not runs["plan"].ran
    assert forge(repo)[1] == []


def test_github_apply_then_plan_is_empty_and_a_delete_is_labelled(repo: dict[str, Any]) -> None:
    applied = run_github_job("apply.yml", "apply", github_context(), repo["cwd"], repo["env"])
    assert applied.ok, applied.logs
    journal = [json.loads(line) for line in (repo["cwd"] / "apply.jsonl").read_text().splitlines()]
    assert journal and SECRET_KEY not in json.dumps(journal)
    quiet = github_plan(repo)["plan"]
    assert quiet.outputs["plan"]["outputs"]["exitcode"] == "0", quiet.logs
    assert forge(repo)[0]["labels"] == []
    stack = repo["cwd"] / "infra" / "metorial" / "stack.yaml"
    doc = yaml.safe_load(stack.read_text())
    del doc["session_templates"]
    stack.write_text(yaml.safe_dump(doc))
    destructive = github_plan(repo)["plan"]
    assert destructive.ok, destructive.logs
    assert destructive.outputs["plan"]["outputs"]["exitcode"] == "3"
    store, _ = forge(repo)
    assert store["labels"] == ["destructive"] and len(store["comments"]) == 1
    assert "`quickstart` · 1 delete" in store["comments"][0]["body"]


def test_github_plan_fails_the_job_on_an_error(repo: dict[str, Any]) -> None:
    (repo["cwd"] / "infra" / "metorial" / "broken.yaml").write_text("deployments:\n  x: {provider: [oops]}\n")
    plan = run_github_job("plan.yml", "plan", github_context(), repo["cwd"], repo["env"])
    assert plan.codes["plan"] == 1 and "Comment" not in plan.codes


def gitlab_variables(source_project: str = "42") -> dict[str, str]:
    return {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "9",
            "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": source_project, "CI_DEFAULT_BRANCH": "main",
            "METORIAL_API_KEY": SECRET_KEY, "METORIAL_APPLY_FINGERPRINT_KEY": FINGERPRINT_KEY,
            "GITLAB_TOKEN": "glpat-fake"}


def test_gitlab_plan_notes_once_then_edits_and_apply_converges(repo: dict[str, Any]) -> None:
    for _ in range(2):
        assert run_gitlab_job("metorial-validate", gitlab_variables(), repo["cwd"], repo["env"]).ok
        plan = run_gitlab_job("metorial-plan", gitlab_variables(), repo["cwd"], repo["env"])
        assert plan.ok, plan.logs
    store, calls = forge(repo)
    writes = [(c["method"], c["path"]) for c in calls if c["method"] != "GET" and "notes" in c["path"]]
    assert writes == [("POST", "projects/42/merge_requests/9/notes"), ("PUT", "projects/42/merge_requests/9/notes/1")]
    assert len(store["comments"]) == 1 and store["comments"][0]["body"].startswith(MARKER)
    on_main = gitlab_variables() | {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main"}
    assert not run_gitlab_job("metorial-plan", on_main, repo["cwd"], repo["env"]).ran
    applied = run_gitlab_job("metorial-apply", on_main, repo["cwd"], repo["env"])
    assert applied.ok, applied.logs
    again = run_gitlab_job("metorial-plan", gitlab_variables(), repo["cwd"], repo["env"])
    assert again.ok and "`quickstart` · no changes" in forge(repo)[0]["comments"][0]["body"]


def test_gitlab_fork_merge_requests_get_validate_alone(repo: dict[str, Any]) -> None:
    assert run_gitlab_job("metorial-validate", gitlab_variables("77"), repo["cwd"], repo["env"]).ok
    assert not run_gitlab_job("metorial-plan", gitlab_variables("77"), repo["cwd"], repo["env"]).ran


def test_recipes_never_expand_event_values_inside_scripts() -> None:
    """`${{ … }}` inside a `run:` script is shell injection (a PR title or branch name)."""
    for workflow in (RECIPES / "github").glob("*.yml"):
        for job in yaml.safe_load(workflow.read_text())["jobs"].values():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), f"{workflow.name}: {step.get('name')}"
        assert "pull_request_target:" not in workflow.read_text()


def test_pre_commit_hook_validates_offline(tmp_path: Path) -> None:
    """The hook's entry runs with no API key and no network, as pre-commit runs it."""
    hook = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())[0]
    env = {"PATH": f"{fake_bin(tmp_path / 'bin')}:/usr/bin:/bin", "HOME": str(tmp_path)}
    good = shell(f"{hook['entry']} {ROOT / 'examples' / 'quickstart'}", child_env(env), tmp_path)
    assert good[0] == 0, good[1]
    (tmp_path / "bad.yaml").write_text("stack: x\ndeployments:\n  gh: {provider: github, bogus: 1}\n")
    bad = shell(f"{hook['entry']} {tmp_path / 'bad.yaml'}", child_env(env), tmp_path)
    assert bad[0] == 1 and "bogus" in bad[1]
