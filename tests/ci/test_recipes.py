"""The GitLab recipe (examples/ci/gitlab/.gitlab-ci.yml) over a workspace against `emulator
serve` and a fake GitLab API on loopback; and what every recipe must keep: no `${{ … }}` inside
scripts, our action pinned by commit SHA, the action's lock covering the package's dependencies,
the pre-commit hook offline."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from metorial_apply.emulator.process import child_env
from tests.ci import forge as fake
from tests.ci import gitlab_fake
from tests.ci.runner import RECIPES, ROOT, JobRun, fake_bin, run_gitlab_job, shell
from tests.ci.workspace_repo import Repo, make_repo
from tests.emulator_server import SECRET_KEY, EmulatorProcess

MR = "9"


@pytest.fixture
def lab(tmp_path: Path, emulator: EmulatorProcess) -> Iterator[tuple[Repo, str]]:
    repo = make_repo(tmp_path, emulator.url, SECRET_KEY)
    with gitlab_fake.serve_gitlab(repo.state, Path(repo.env["FAKE_FORGE_LOG"])) as api:
        yield repo, api


def variables(repo: Repo, api: str, source_project: str = "42", **more: str) -> dict[str, str]:
    """GitLab's predefined variables for a merge-request pipeline and the project's CI/CD variables."""
    return {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": MR,
            "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": source_project, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
            "CI_DEFAULT_BRANCH": "main", "CI_API_V4_URL": api, "GITLAB_TOKEN": gitlab_fake.TOKEN,
            "METORIAL_APPLY_SRC": str(ROOT), "METORIAL_STAGING_API_URL": repo.url,
            "METORIAL_PRODUCTION_API_URL": repo.url, **repo.secrets, **more}


def job(repo: Repo, api: str, name: str, **more: str) -> JobRun:
    return run_gitlab_job(name, variables(repo, api, **more), repo.cwd, repo.env)


def change_staging_slack(repo: Repo) -> None:
    path = repo.cwd / "envs" / "support" / "staging.yaml"
    path.write_text(path.read_text().replace("slack_workspace: acme-staging", "slack_workspace: acme-staging-2"))
    repo.commit("staging slack")


def test_gitlab_one_combined_note_edited_then_the_reviewed_plan_is_applied(lab: tuple[Repo, str]) -> None:
    repo, api = lab
    change_staging_slack(repo)
    for _ in range(2):
        assert job(repo, api, "metorial-validate").ok
        plan = job(repo, api, "metorial-plan")
        assert plan.ok, plan.logs
    notes = [c for c in repo.store()["comments"] if c["on"] == MR]
    assert len(notes) == 1 and notes[0]["author"] == gitlab_fake.BOT
    assert notes[0]["body"].startswith("<!-- metorial-apply:acme -->")
    writes = [(c["method"], c["path"]) for c in repo.calls() if c["method"] != "GET" and "notes" in c["path"]]
    assert writes == [("POST", "projects/42/merge_requests/9/notes"), ("PUT", "projects/42/merge_requests/9/notes/1")]
    before, sha = repo.merge("feature", MR)
    push = {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_SHA": sha,
            "CI_COMMIT_BEFORE_SHA": before}
    assert not job(repo, api, "metorial-plan", **push).ran
    applied = job(repo, api, "metorial-apply", **push)
    assert applied.ok, applied.logs
    assert repo.cli("plan", "support/staging", "--detailed-exitcode").returncode == 0
    text = json.dumps(repo.calls()) + plan.logs + applied.logs
    assert not [name for name, value in repo.secrets.items() if value in text]
    assert gitlab_fake.TOKEN not in text  # it goes in a header, never in a path or body


def test_gitlab_destructive_apply_waits_for_an_approval_note(lab: tuple[Repo, str]) -> None:
    repo, api = lab
    assert repo.cli("apply", "support/staging", "--auto-approve").returncode == 0
    path = repo.cwd / "stacks" / "support" / "stack.yaml"
    path.write_text(path.read_text().split("session_templates:")[0])
    repo.commit("drop templates")
    assert job(repo, api, "metorial-plan").ok
    assert repo.store()["labels"][MR] == ["destructive"]
    before, sha = repo.merge("feature", MR, author="bob")
    push = {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_SHA": sha,
            "CI_COMMIT_BEFORE_SHA": before}
    refused = job(repo, api, "metorial-apply", **push)
    assert not refused.ok and "needs an approving review of #9" in refused.logs
    store = repo.store()
    fake.add_review(store, MR, "alice", "APPROVED")  # GitLab's "approved this merge request" note
    repo.save(store)
    approved = job(repo, api, "metorial-apply", **push)
    assert approved.ok and "approved by alice" in approved.logs, approved.logs


def test_gitlab_fork_merge_requests_get_validate_alone(lab: tuple[Repo, str]) -> None:
    repo, api = lab
    change_staging_slack(repo)
    fork = variables(repo, api, source_project="77")
    assert run_gitlab_job("metorial-validate", fork, repo.cwd, repo.env).ok
    assert not run_gitlab_job("metorial-plan", fork, repo.cwd, repo.env).ran
    assert repo.calls() == []


def steps_of(doc: dict) -> list[dict]:
    """Every step of a workflow's jobs, or of a composite action."""
    return [s for job in doc.get("jobs", {}).values() for s in job["steps"]] + doc.get("runs", {}).get("steps", [])


def test_recipes_never_expand_event_values_inside_scripts() -> None:
    """`${{ … }}` inside a `run:` script is shell injection (a PR title or branch name)."""
    for workflow in [*(RECIPES / "github").glob("*.yml"), ROOT / "action.yml"]:
        for step in steps_of(yaml.safe_load(workflow.read_text())):
            assert "${{" not in step.get("run", ""), f"{workflow.name}: {step.get('name')}"
        assert "pull_request_target:" not in workflow.read_text()


def test_every_action_is_pinned_by_commit_sha() -> None:
    """A tag can be moved to other code; a commit SHA cannot. Ours and third-party actions alike."""
    files = [*(RECIPES / "github").glob("*.yml"), ROOT / "action.yml"]
    texts = [p.read_text() for p in files]
    uses = [step["uses"] for doc in map(yaml.safe_load, texts) for step in steps_of(doc) if "uses" in step]
    assert any(u.startswith("acme/metorial-apply@") for u in uses)
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses
    gitlab = (RECIPES / "gitlab" / ".gitlab-ci.yml").read_text()
    assert re.search(r'METORIAL_APPLY_SHA: "[0-9a-f]{40}"', gitlab)
    for text in [*texts, gitlab]:
        assert "metorial-apply==" not in text  # not published: never installed by name


def test_the_action_lock_pins_every_dependency_by_hash() -> None:
    """requirements/action.txt covers pyproject's dependencies, each `==` with hashes."""
    lock = (ROOT / "requirements" / "action.txt").read_text()
    pinned = dict(re.findall(r"^([a-z0-9_.-]+)==(\S+) \\$", lock, re.MULTILINE))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!\[ ]", d)[0].lower().replace("_", "-") for d in project}
    assert names <= set(pinned), names - set(pinned)
    assert {"setuptools", "wheel"} <= set(pinned)  # built with --no-build-isolation
    blocks = re.split(r"^(?=[a-z0-9_.-]+==)", lock, flags=re.MULTILINE)[1:]
    assert all("--hash=sha256:" in block for block in blocks) and len(blocks) == len(pinned)


def test_pre_commit_hook_validates_offline(tmp_path: Path) -> None:
    """The hook's entry runs with no API key and no network, as pre-commit runs it."""
    hook = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())[0]
    env = {"PATH": f"{fake_bin(tmp_path / 'bin')}:/usr/bin:/bin", "HOME": str(tmp_path)}
    good = shell(f"{hook['entry']} {ROOT / 'examples' / 'quickstart'}", child_env(env), tmp_path)
    assert good[0] == 0, good[1]
    (tmp_path / "bad.yaml").write_text("stack: x\ndeployments:\n  gh: {provider: github, bogus: 1}\n")
    bad = shell(f"{hook['entry']} {tmp_path / 'bad.yaml'}", child_env(env), tmp_path)
    assert bad[0] == 1 and "bogus" in bad[1]


def test_release_refuses_a_tag_that_is_not_the_package_version(tmp_path: Path) -> None:
    doc = yaml.safe_load((RECIPES / "github" / "release.yml").read_text())
    [check] = [s for s in doc["jobs"]["build"]["steps"] if s.get("name") == "The tag is the package's version"]
    assert doc["jobs"]["publish"]["permissions"] == {"id-token": "write"}
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    env = child_env({"PATH": f"{fake_bin(tmp_path / 'bin')}:/usr/bin:/bin"})
    assert shell(check["run"], env | {"TAG": f"v{version}"}, ROOT)[0] == 0
    assert shell(check["run"], env | {"TAG": "v9.9.9"}, ROOT)[0] == 1
