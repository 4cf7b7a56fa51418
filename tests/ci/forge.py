"""A fake forge for the CI-recipe tests: `gh api` (run as `python forge.py gh api …`) and the
GitLab REST API (`serve_gitlab`, a loopback HTTP server), both over one JSON store, each call
logged (method, path, body) to FAKE_FORGE_LOG.

The store: comments on pull requests (author, created/updated times from a fake clock), labels
per pull request, issues (title, body, state, labels, author), reviews (author, state, time),
pull requests (author, merge commit) and apply runs. Writes are by the token's user: FAKE_FORGE_USER,
`github-actions[bot]` unless a test says otherwise. Only the routes and query parameters the
recipes use exist; anything else is an error (gh: exit 2), so a recipe that drifts from this
fake fails loudly."""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

BOT = "github-actions[bot]"
EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z; the clock ticks one second per write


class Unrouted(Exception):
    """No such route or parameter in the fake: gh exits 2, the HTTP server answers 400."""


def empty_store() -> dict[str, Any]:
    return {"clock": 0, "next_id": 1, "comments": [], "labels": {}, "issues": [], "reviews": {},
            "pulls": {}, "runs": []}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else empty_store()


def tick(store: dict[str, Any]) -> str:
    """The fake clock's next instant, ISO 8601 as both forges write it."""
    store["clock"] += 1
    return datetime.fromtimestamp(EPOCH + store["clock"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(store: dict[str, Any]) -> int:
    store["next_id"] += 1
    return store["next_id"] - 1


def add_review(store: dict[str, Any], pull: str, author: str, state: str) -> None:
    """A review submitted now (after everything written so far)."""
    store["reviews"].setdefault(pull, []).append({"author": author, "state": state, "at": tick(store)})


def add_comment(store: dict[str, Any], pull: str, author: str, body: str) -> dict[str, Any]:
    at = tick(store)
    comment = {"id": new_id(store), "on": pull, "body": body, "author": author, "created_at": at, "updated_at": at}
    store["comments"].append(comment)
    return comment


def query(path: str, allowed: set[str]) -> tuple[str, dict[str, str]]:
    base, _, raw = path.partition("?")
    params = dict(parse_qsl(raw))
    if set(params) - allowed:
        raise Unrouted(f"unexpected query parameters {sorted(set(params) - allowed)} on {base}")
    return base, params


def edit_comment(store: dict[str, Any], comment_id: str, body: str, user: str) -> dict[str, Any]:
    comment = next((c for c in store["comments"] if c["id"] == int(comment_id)), None)
    if comment is None:
        raise Unrouted(f"no comment {comment_id}")
    if comment["author"] != user:  # both forges refuse to edit another user's comment
        raise Unrouted(f"403: {user} cannot edit {comment['author']}'s comment")
    comment.update(body=body, updated_at=tick(store))
    return comment


def find_issue(store: dict[str, Any], number: str) -> dict[str, Any]:
    issue = next((i for i in store["issues"] if i["number"] == int(number)), None)
    if issue is None:
        raise Unrouted(f"no issue {number}")
    return issue


def create_issue(store: dict[str, Any], title: str, body: str, labels: list[str], user: str) -> dict[str, Any]:
    issue = {"number": 100 + len(store["issues"]), "title": title, "body": body, "state": "open",
             "labels": labels, "author": user, "updated_at": tick(store)}
    store["issues"].append(issue)
    return issue


def github_comment(c: dict[str, Any]) -> dict[str, Any]:
    return {"id": c["id"], "body": c["body"], "user": {"login": c["author"]}, "created_at": c["created_at"],
            "updated_at": c["updated_at"]}


def github_issue(i: dict[str, Any]) -> dict[str, Any]:
    return {"number": i["number"], "title": i["title"], "body": i["body"], "state": i["state"],
            "labels": [{"name": n} for n in i["labels"]], "user": {"login": i["author"]}}


def github_pulls(store: dict[str, Any], method: str, path: str, body: dict[str, Any], user: str) -> Any:
    """Pull-request routes: comments, labels, reviews, the commit → pulls lookup."""
    r = r"repos/[^/]+/[^/]+/"
    if (m := re.fullmatch(r + r"issues/(\d+)/comments", path)) and method == "GET":
        return [github_comment(c) for c in store["comments"] if c["on"] == m.group(1)]
    if (m := re.fullmatch(r + r"issues/(\d+)/comments", path)) and method == "POST":
        if int(m.group(1)) >= 100:  # an issue's comment (closing note)
            find_issue(store, m.group(1))
        return github_comment(add_comment(store, m.group(1), user, body["body"]))
    if (m := re.fullmatch(r + r"issues/comments/(\d+)", path)) and method == "PATCH":
        return github_comment(edit_comment(store, m.group(1), body["body"], user))
    if (m := re.fullmatch(r + r"issues/(\d+)/labels", path)) and method in ("GET", "POST"):
        names = store["labels"].setdefault(m.group(1), [])
        names[:] = sorted(set(names) | set(body.get("labels", []) if method == "POST" else []))
        return [{"name": n} for n in names]
    if (m := re.fullmatch(r + r"issues/(\d+)/labels/([^/]+)", path)) and method == "DELETE":
        if m.group(2) not in store["labels"].get(m.group(1), []):
            raise Unrouted("404: Label does not exist")
        store["labels"][m.group(1)].remove(m.group(2))
        return None
    if (m := re.fullmatch(r + r"commits/([0-9a-f]{40})/pulls", path)) and method == "GET":
        return [{"number": int(n), "user": {"login": p["author"]}, "merge_commit_sha": p["merge_commit_sha"]}
                for n, p in store["pulls"].items() if p["merge_commit_sha"] == m.group(1)]
    if (m := re.fullmatch(r + r"pulls/(\d+)/reviews", path)) and method == "GET":
        return [{"user": {"login": v["author"]}, "state": v["state"], "submitted_at": v["at"]}
                for v in store["reviews"].get(m.group(1), [])]
    raise Unrouted(f"no route for gh {method} {path}")


def github_issues(store: dict[str, Any], method: str, path: str, body: dict[str, Any], user: str) -> Any:
    """Issue and workflow-run routes."""
    r = r"repos/[^/]+/[^/]+/"
    base, params = query(path, {"state", "labels", "per_page", "branch", "status"})
    if re.fullmatch(r + "issues", base) and method == "GET":
        return [github_issue(i) for i in store["issues"] if i["state"] == params.get("state", "open")
                and (not params.get("labels") or params["labels"] in i["labels"])]
    if re.fullmatch(r + "issues", base) and method == "POST":
        return github_issue(create_issue(store, body["title"], body["body"], body.get("labels", []), user))
    if (m := re.fullmatch(r + r"issues/(\d+)", base)) and method == "PATCH":
        issue = find_issue(store, m.group(1))
        issue.update({k: body[k] for k in ("body", "state", "title") if k in body}, updated_at=tick(store))
        return github_issue(issue)
    if re.fullmatch(r + r"actions/workflows/[^/]+/runs", base) and method == "GET":
        if params.get("status") != "completed":
            raise Unrouted("the recipes ask for completed runs only")
        runs = [{"conclusion": run["conclusion"], "html_url": run["url"]} for run in reversed(store["runs"])]
        return {"total_count": len(runs), "workflow_runs": runs[: int(params.get("per_page", 30))]}
    return github_pulls(store, method, base, body, user)


def parse_gh(args: list[str]) -> tuple[str, str, dict[str, Any], bool]:
    """`api [-X M] [--paginate [--slurp]] [--input -] [-f k=v] PATH` → method, path, body, slurp."""
    method, path, body, paginate, slurp = "GET", "", {}, False, False
    it = iter(args)
    for arg in it:
        if arg in ("-X", "--method"):
            method = next(it)
        elif arg == "--input":
            if next(it) != "-":
                raise Unrouted("the fake reads --input from stdin only")
            body = json.loads(sys.stdin.read())
        elif arg in ("-f", "--raw-field"):
            key, _, value = next(it).partition("=")
            body[key] = value
        elif arg in ("--paginate", "--slurp"):
            paginate, slurp = paginate or arg == "--paginate", slurp or arg == "--slurp"
        elif arg.startswith("-"):
            raise Unrouted(f"unknown flag {arg}")
        else:
            path = arg
    if slurp and not paginate:
        raise Unrouted("--slurp needs --paginate")
    return method, path, body, slurp


def log_call(tool: str, method: str, path: str, body: Any) -> None:
    with open(os.environ["FAKE_FORGE_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": tool, "method": method, "path": path, "body": body}) + "\n")


def gh_main(args: list[str]) -> int:
    if not os.environ.get("GH_TOKEN"):
        print("gh: not authenticated (GH_TOKEN unset)", file=sys.stderr)
        return 4
    if not args or args[0] != "api":
        print("fake forge: only `gh api` is faked", file=sys.stderr)
        return 2
    state = Path(os.environ["FAKE_FORGE_STATE"])
    store = load(state)
    try:
        method, path, body, slurp = parse_gh(args[1:])
        log_call("gh", method, path, body)
        result = github_issues(store, method, path, body, os.environ.get("FAKE_FORGE_USER", BOT))
    except Unrouted as error:
        print(f"fake forge: {error}", file=sys.stderr)
        return 1 if str(error)[:3] in ("403", "404") else 2
    state.write_text(json.dumps(store))
    if result is not None:
        print(json.dumps([result] if slurp else result))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["gh"]:
        sys.exit("usage: forge.py gh api …")
    sys.exit(gh_main(sys.argv[2:]))
