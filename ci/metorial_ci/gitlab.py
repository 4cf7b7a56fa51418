"""GitLab through its REST API with urllib (the slim image has neither glab nor jq). The token
is GITLAB_TOKEN, a project access token with `api` scope; its own user is the bot whose notes
and issues are trusted (asked from /user, so no name has to be configured or can be wrong)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from .forge import Approval, Comment, Issue, Pull

# System notes GitLab writes for an approval and its withdrawal, with the time they happened
# (the approvals endpoint lists approvers without times).
APPROVAL_NOTES = {"approved this merge request": True, "unapproved this merge request": False}


class GitLab:
    def __init__(self, api_url: str, project: str, bot: str, branch: str = "main") -> None:
        self.base, self.project, self.branch = api_url.rstrip("/"), quote(project, safe=""), branch
        self.bot = bot if bot and bot != "github-actions[bot]" else self.api("GET", "user")["username"]

    def api(self, method: str, path: str, body: dict[str, Any] | None = None, paginate: bool = False) -> Any:
        url, items = f"{self.base}/{path}", []
        while True:
            request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None,
                                             headers={"PRIVATE-TOKEN": os.environ["GITLAB_TOKEN"],
                                                      "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # the job's own API URL
                    data = json.loads(response.read() or b"null")
                    following = response.headers.get("X-Next-Page")
            except urllib.error.HTTPError as error:
                raise SystemExit(f"metorial-ci: GitLab {method} {path} failed: HTTP {error.code}") from None
            if not paginate:
                return data
            items += data
            if not following:
                return items
            url = f"{self.base}/{path}{'&' if '?' in path else '?'}page={following}"

    def mr(self, pull: str) -> str:
        return f"projects/{self.project}/merge_requests/{pull}"

    def comments(self, pull: str) -> list[Comment]:
        notes = self.api("GET", f"{self.mr(pull)}/notes?per_page=100&sort=asc", paginate=True)
        return [Comment(id=str(n["id"]), author=n["author"]["username"], body=n["body"] or "",
                        updated_at=n["updated_at"]) for n in notes if not n.get("system")]

    def create_comment(self, pull: str, body: str) -> None:
        self.api("POST", f"{self.mr(pull)}/notes", {"body": body})

    def edit_comment(self, pull: str, comment: Comment, body: str) -> None:
        self.api("PUT", f"{self.mr(pull)}/notes/{comment.id}", {"body": body})

    def set_label(self, pull: str, label: str, present: bool) -> None:
        self.api("PUT", self.mr(pull), {"add_labels" if present else "remove_labels": label})

    def pull_of_commit(self, sha: str) -> Pull | None:
        found = self.api("GET", f"projects/{self.project}/repository/commits/{sha}/merge_requests")
        found.sort(key=lambda m: sha not in (m.get("merge_commit_sha"), m.get("squash_commit_sha")))
        return Pull(number=str(found[0]["iid"]), author=found[0]["author"]["username"]) if found else None

    def approvals(self, pull: Pull) -> list[Approval]:
        notes = self.api("GET", f"{self.mr(pull.number)}/notes?per_page=100&sort=asc", paginate=True)
        return [Approval(author=n["author"]["username"], at=n["created_at"], approved=APPROVAL_NOTES[n["body"]])
                for n in notes if n.get("system") and n["body"] in APPROVAL_NOTES]

    def open_issues(self, label: str) -> list[Issue]:
        found = self.api("GET", f"projects/{self.project}/issues?state=opened&labels={quote(label)}&per_page=100",
                         paginate=True)
        return [Issue(number=str(i["iid"]), author=i["author"]["username"], body=i["description"] or "")
                for i in found]

    def create_issue(self, title: str, body: str, label: str) -> None:
        self.api("POST", f"projects/{self.project}/issues", {"title": title, "description": body, "labels": label})

    def edit_issue(self, issue: Issue, body: str) -> None:
        self.api("PUT", f"projects/{self.project}/issues/{issue.number}", {"description": body})

    def close_issue(self, issue: Issue, note: str) -> None:
        self.api("POST", f"projects/{self.project}/issues/{issue.number}/notes", {"body": note})
        self.api("PUT", f"projects/{self.project}/issues/{issue.number}", {"state_event": "close"})

    def last_apply(self) -> tuple[str, str] | None:
        """The last finished push pipeline on the branch (it runs the apply job; scheduled drift
        pipelines are left out)."""
        path = f"projects/{self.project}/pipelines?ref={quote(self.branch)}&source=push&scope=finished&per_page=1"
        found = self.api("GET", path)
        return (found[0]["status"], found[0]["web_url"]) if found else None
