"""GitHub through `gh api` (the token in GH_TOKEN, which gh reads itself: it is never on a
command line). Bodies go as JSON on stdin, so no comment text passes through a shell."""

from __future__ import annotations

import json
import subprocess
from typing import Any
from urllib.parse import quote

from .forge import Approval, Comment, Issue, Pull

# A review's state that sets or withdraws the reviewer's approval; COMMENTED changes neither.
REVIEW_STATES = {"APPROVED": True, "CHANGES_REQUESTED": False, "DISMISSED": False}


class GitHub:
    def __init__(self, repo: str, bot: str, apply_workflow: str, branch: str = "main") -> None:
        self.repo, self.bot, self.apply_workflow, self.branch = repo, bot, apply_workflow, branch

    def api(self, method: str, path: str, body: dict[str, Any] | None = None, paginate: bool = False) -> Any:
        args = ["gh", "api", "-X", method, path] + (["--paginate", "--slurp"] if paginate else [])
        args += ["--input", "-"] if body is not None else []
        done = subprocess.run(args, input=json.dumps(body) if body is not None else None,
                              capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"metorial-ci: gh api {method} {path} failed: {done.stderr.strip()[:500]}")
        data = json.loads(done.stdout) if done.stdout.strip() else None
        return [item for page in data for item in page] if paginate else data

    def comments(self, pull: str) -> list[Comment]:
        return [Comment(id=str(c["id"]), author=c["user"]["login"], body=c["body"] or "", updated_at=c["updated_at"])
                for c in self.api("GET", f"repos/{self.repo}/issues/{pull}/comments?per_page=100", paginate=True)]

    def create_comment(self, pull: str, body: str) -> None:
        self.api("POST", f"repos/{self.repo}/issues/{pull}/comments", {"body": body})

    def edit_comment(self, pull: str, comment: Comment, body: str) -> None:
        self.api("PATCH", f"repos/{self.repo}/issues/comments/{comment.id}", {"body": body})

    def set_label(self, pull: str, label: str, present: bool) -> None:
        names = {item["name"] for item in self.api("GET", f"repos/{self.repo}/issues/{pull}/labels")}
        if present and label not in names:
            self.api("POST", f"repos/{self.repo}/issues/{pull}/labels", {"labels": [label]})
        elif not present and label in names:
            self.api("DELETE", f"repos/{self.repo}/issues/{pull}/labels/{quote(label)}")

    def pull_of_commit(self, sha: str) -> Pull | None:
        """The pull request a commit on main came from (the merge commit's, if several list it)."""
        pulls = self.api("GET", f"repos/{self.repo}/commits/{sha}/pulls")
        pulls.sort(key=lambda p: p.get("merge_commit_sha") != sha)
        return Pull(number=str(pulls[0]["number"]), author=pulls[0]["user"]["login"]) if pulls else None

    def approvals(self, pull: Pull) -> list[Approval]:
        reviews = self.api("GET", f"repos/{self.repo}/pulls/{pull.number}/reviews?per_page=100", paginate=True)
        return [Approval(author=r["user"]["login"], at=r["submitted_at"], approved=REVIEW_STATES[r["state"]])
                for r in reviews if r["state"] in REVIEW_STATES and r.get("submitted_at")]

    def open_issues(self, label: str) -> list[Issue]:
        found = self.api("GET", f"repos/{self.repo}/issues?state=open&labels={quote(label)}&per_page=100",
                         paginate=True)
        return [Issue(number=str(i["number"]), author=i["user"]["login"], body=i["body"] or "")
                for i in found if "pull_request" not in i]  # the issues list includes pull requests

    def create_issue(self, title: str, body: str, label: str) -> None:
        self.api("POST", f"repos/{self.repo}/issues", {"title": title, "body": body, "labels": [label]})

    def edit_issue(self, issue: Issue, body: str) -> None:
        self.api("PATCH", f"repos/{self.repo}/issues/{issue.number}", {"body": body})

    def close_issue(self, issue: Issue, note: str) -> None:
        self.api("POST", f"repos/{self.repo}/issues/{issue.number}/comments", {"body": note})
        self.api("PATCH", f"repos/{self.repo}/issues/{issue.number}", {"state": "closed", "state_reason": "completed"})

    def last_apply(self) -> tuple[str, str] | None:
        """How the last finished apply workflow run on the branch ended, and its address."""
        path = (f"repos/{self.repo}/actions/workflows/{quote(self.apply_workflow)}/runs"
                f"?branch={quote(self.branch)}&status=completed&per_page=1")
        runs = self.api("GET", path)["workflow_runs"]
        return (runs[0]["conclusion"] or "unknown", runs[0]["html_url"]) if runs else None
