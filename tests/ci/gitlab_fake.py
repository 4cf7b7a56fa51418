"""The GitLab REST API the recipe's ci/metorial_ci/gitlab.py calls, served on loopback over the
same JSON store as the fake `gh` (forge.py), every call logged. Writes are by the token's user
(`project_42_bot`); a wrong or missing PRIVATE-TOKEN is a 401; an unknown route a 400."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.ci import forge as fake

BOT = "project_42_bot"
TOKEN = "glpat-fake-token-for-ci-tests-31415"
APPROVAL_BODY = {"APPROVED": "approved this merge request", "CHANGES_REQUESTED": "unapproved this merge request"}


def note(c: dict[str, Any]) -> dict[str, Any]:
    return {"id": c["id"], "body": c["body"], "author": {"username": c["author"]}, "system": False,
            "created_at": c["created_at"], "updated_at": c["updated_at"]}


def issue(i: dict[str, Any]) -> dict[str, Any]:
    return {"iid": i["number"], "title": i["title"], "description": i["body"],
            "state": "opened" if i["state"] == "open" else "closed", "labels": i["labels"],
            "author": {"username": i["author"]}}


def merge_requests(store: dict[str, Any], method: str, base: str, body: dict[str, Any]) -> Any:
    p = r"projects/42/"
    if (m := re.fullmatch(p + r"merge_requests/(\d+)/notes", base)) and method == "GET":
        approvals = [{"id": 0, "body": APPROVAL_BODY[r["state"]], "author": {"username": r["author"]},
                      "system": True, "created_at": r["at"], "updated_at": r["at"]}
                     for r in store["reviews"].get(m.group(1), []) if r["state"] in APPROVAL_BODY]
        return [note(c) for c in store["comments"] if c["on"] == m.group(1)] + approvals
    if (m := re.fullmatch(p + r"merge_requests/(\d+)/notes", base)) and method == "POST":
        return note(fake.add_comment(store, m.group(1), BOT, body["body"]))
    if (m := re.fullmatch(p + r"merge_requests/\d+/notes/(\d+)", base)) and method == "PUT":
        return note(fake.edit_comment(store, m.group(1), body["body"], BOT))
    if (m := re.fullmatch(p + r"merge_requests/(\d+)", base)) and method == "PUT":
        names = set(store["labels"].get(m.group(1), [])) | {body.get("add_labels")}
        store["labels"][m.group(1)] = sorted(names - {body.get("remove_labels"), None})
        return {"iid": int(m.group(1)), "labels": store["labels"][m.group(1)]}
    if (m := re.fullmatch(p + r"repository/commits/([0-9a-f]{40})/merge_requests", base)) and method == "GET":
        return [{"iid": int(n), "author": {"username": pr["author"]}, "merge_commit_sha": pr["merge_commit_sha"]}
                for n, pr in store["pulls"].items() if pr["merge_commit_sha"] == m.group(1)]
    raise fake.Unrouted(f"no route for GitLab {method} {base}")


def route(store: dict[str, Any], method: str, path: str, body: dict[str, Any]) -> Any:
    base, params = fake.query(path, {"per_page", "sort", "state", "labels", "ref", "source", "scope", "page"})
    p = r"projects/42/"
    if base == "user" and method == "GET":
        return {"username": BOT}
    if base == p + "issues" and method == "GET":
        wanted = {"opened": "open", "closed": "closed"}[params["state"]]
        return [issue(i) for i in store["issues"] if i["state"] == wanted and params["labels"] in i["labels"]]
    if base == p + "issues" and method == "POST":
        return issue(fake.create_issue(store, body["title"], body["description"], [body["labels"]], BOT))
    if (m := re.fullmatch(p + r"issues/(\d+)", base)) and method == "PUT":
        found = fake.find_issue(store, m.group(1))
        if body.get("state_event") == "close":
            found["state"] = "closed"
        found.update({"body": body["description"]} if "description" in body else {})
        return issue(found)
    if (m := re.fullmatch(p + r"issues/(\d+)/notes", base)) and method == "POST":
        fake.find_issue(store, m.group(1))
        return note(fake.add_comment(store, m.group(1), BOT, body["body"]))
    if base == p + "pipelines" and method == "GET":
        assert params.get("scope") == "finished" and params.get("source") == "push", params
        status = {"success": "success", "failure": "failed"}
        return [{"status": status.get(r["conclusion"], r["conclusion"]), "web_url": r["url"]}
                for r in reversed(store["runs"])][: int(params.get("per_page", 20))]
    return merge_requests(store, method, base, body)


class Handler(BaseHTTPRequestHandler):
    state: Path
    log: Path
    lock = threading.Lock()

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else {}
        path = self.path.removeprefix("/api/v4/")
        with self.lock:
            with self.log.open("a", encoding="utf-8") as log:
                log.write(json.dumps({"tool": "gitlab", "method": self.command, "path": path, "body": body}) + "\n")
            if self.headers.get("PRIVATE-TOKEN") != TOKEN:
                return self.reply(401, {"message": "401 Unauthorized"})
            store = fake.load(self.state)
            try:
                result = route(store, self.command, path, body)
            except fake.Unrouted as error:
                return self.reply(400, {"message": str(error)})
            self.state.write_text(json.dumps(store))
        self.reply(200, result)

    def reply(self, status: int, data: Any) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = answer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: calls are in the log file
        pass


@contextmanager
def serve_gitlab(state: Path, log: Path) -> Iterator[str]:
    """The fake API on a free loopback port; yields its CI_API_V4_URL."""
    handler = type("BoundHandler", (Handler,), {"state": state, "log": log})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v4"
    finally:
        server.shutdown()
        server.server_close()
