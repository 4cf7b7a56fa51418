"""The test bed for the workspace recipes: examples/org as a git repository in a temporary
directory (main, `origin/main`, a feature branch), a PATH with the fakes, the forge's files, and
the GitHub context a workflow run would have."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metorial_apply.emulator.process import child_env
from tests.ci import forge as fake
from tests.ci.runner import ROOT, JobRun, fake_bin, run_github_workflow

FINGERPRINT_KEY = "ci-recipe-test-fingerprint-key-0123456789abcdef"  # not a secret: test only
GH_TOKEN = "ghs_fake_token_for_ci_tests_0123456789"
STACK_SECRETS = {"SUPPORT_GITHUB_TOKEN": "ghp_support_token_for_ci_tests_98765",
                 "SUPPORT_SLACK_BOT_TOKEN": "xoxb-slack-token-for-ci-tests-4242",
                 "ENGINEERING_LINEAR_API_KEY": "lin_api_linear_key_for_ci_tests_77"}
PULL = "7"
URL_VARIABLES = ("METORIAL_STAGING_API_URL", "METORIAL_PRODUCTION_API_URL")


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args], cwd=cwd,
                          capture_output=True, text=True, check=True, timeout=30)
    return done.stdout.strip()


@dataclass
class Repo:
    cwd: Path
    env: dict[str, str]
    secrets: dict[str, str]
    url: str

    @property
    def state(self) -> Path:
        return Path(self.env["FAKE_FORGE_STATE"])

    def store(self) -> dict[str, Any]:
        return fake.load(self.state)

    def save(self, store: dict[str, Any]) -> None:
        self.state.write_text(json.dumps(store))

    def calls(self) -> list[dict[str, Any]]:
        log = Path(self.env["FAKE_FORGE_LOG"])
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def commit(self, message: str) -> str:
        git(self.cwd, "add", "-A")
        git(self.cwd, "commit", "-qm", message)
        return git(self.cwd, "rev-parse", "HEAD")

    def context(self, head_repo: str = "acme/infra", sha: str = "", before: str = "",
                pull: str = PULL) -> dict[str, Any]:
        return {"github": {"repository": "acme/infra", "token": GH_TOKEN, "base_ref": "main", "sha": sha,
                           "event": {"before": before, "pull_request": {
                               "number": int(pull), "head": {"repo": {"full_name": head_repo}}}}},
                "secrets": self.secrets,
                "vars": {"METORIAL_STAGING_API_URL": self.url, "METORIAL_PRODUCTION_API_URL": self.url}}

    def workflow(self, name: str, **context: str) -> dict[str, list[JobRun]]:
        return run_github_workflow(name, self.context(**context), self.cwd, self.env)

    def cli(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """metorial-apply as a person at the terminal would run it, with the job's secrets."""
        env = child_env(self.env | self.secrets | dict.fromkeys(URL_VARIABLES, self.url) | {"CI": "1"})
        return subprocess.run(["metorial-apply", *args], cwd=cwd or self.cwd, env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    def merge(self, branch: str, pull: str, author: str = "bob") -> tuple[str, str]:
        """Merge `branch` into main as pull request `pull`: (the commit before, the merge commit)."""
        git(self.cwd, "checkout", "-q", "main")
        before = git(self.cwd, "rev-parse", "HEAD")
        git(self.cwd, "merge", "-q", "--no-ff", branch, "-m", f"Merge #{pull}")
        sha = git(self.cwd, "rev-parse", "HEAD")
        git(self.cwd, "update-ref", "refs/remotes/origin/main", "main")
        store = self.store()
        store["pulls"][pull] = {"author": author, "merge_commit_sha": sha}
        self.save(store)
        return before, sha

    def saved_checksum(self, unit_file: str) -> str:
        return json.loads((self.cwd / ".metorial-apply" / "ci" / f"{unit_file}.json").read_text())["checksum"]


def make_repo(tmp: Path, url: str, secret_key: str) -> Repo:
    """examples/org committed on main (also as origin/main), checked out on branch `feature`."""
    checkout = tmp / "checkout"
    shutil.copytree(ROOT / "examples" / "org", checkout)
    (checkout / ".gitignore").write_text(".metorial-apply/\n")
    git(checkout, "init", "-q", "-b", "main")
    git(checkout, "add", "-A")
    git(checkout, "commit", "-qm", "org")
    git(checkout, "update-ref", "refs/remotes/origin/main", "main")
    git(checkout, "checkout", "-q", "-b", "feature")
    env = {"PATH": f"{fake_bin(tmp / 'bin')}:/usr/bin:/bin", "HOME": str(tmp),
           "FAKE_FORGE_STATE": str(tmp / "forge.json"), "FAKE_FORGE_LOG": str(tmp / "forge.log"),
           "GITHUB_REPOSITORY": "acme/infra",
           "METORIAL_APPLY_LOCK_SKEW": "0"}  # one emulator, one clock: no skew for the stack lock to wait out
    secrets = {"METORIAL_STAGING_API_KEY": secret_key, "METORIAL_PRODUCTION_API_KEY": secret_key,
               "METORIAL_APPLY_FINGERPRINT_KEY": FINGERPRINT_KEY, **STACK_SECRETS}
    return Repo(cwd=checkout, env=env, secrets=secrets, url=url)


def leaked(repo: Repo, runs: list[dict[str, list[JobRun]]]) -> list[str]:
    """Which secrets appear in a forge call or a job's log (none may)."""
    text = json.dumps(repo.calls()) + repo.state.read_text() if repo.state.exists() else json.dumps(repo.calls())
    text += "".join(r.logs for run in runs for legs in run.values() for r in legs)
    return [name for name, value in repo.secrets.items() | {("GH_TOKEN", GH_TOKEN)} if value in text]
