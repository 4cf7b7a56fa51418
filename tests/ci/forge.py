"""A fake `gh` / `glab` for the CI-recipe tests: `api` calls against an in-file store of
comments and labels, each call logged. Run as `python forge.py gh|glab api …`.

Only what the recipes use: list/create/edit PR comments (GitHub) and MR notes (GitLab), add and
remove a label, `--paginate`, and gh's `--jq` for the one select-by-marker filter the recipe
uses. Anything else exits 2, so a recipe that drifts from this fake fails loudly."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

TOKENS = {"gh": "GH_TOKEN", "glab": "GITLAB_TOKEN"}


def parse(args: list[str]) -> tuple[str, str, dict[str, str], str | None]:
    """`api [-X M] [--paginate] [--jq E] [-f k=v] [-F k=@file] PATH` → method, path, fields, jq."""
    method, path, fields, jq = "GET", "", {}, None
    it = iter(args)
    for arg in it:
        if arg in ("-X", "--method"):
            method = next(it)
        elif arg == "--jq":
            jq = next(it)
        elif arg in ("-f", "-F", "--field", "--raw-field"):
            key, _, value = next(it).partition("=")
            if arg in ("-F", "--field") and value.startswith("@"):
                value = Path(value[1:]).read_text(encoding="utf-8")
            fields[key] = value
        elif arg == "--paginate":
            continue
        elif arg.startswith("-"):
            sys.exit(f"fake forge: unknown flag {arg}")
        else:
            path = arg
    return method, path, fields, jq


def route(tool: str, method: str, path: str, fields: dict[str, str], store: dict[str, Any]) -> Any:
    github, gitlab = r"repos/[^/]+/[^/]+/issues/(\d+)/comments", r"projects/\d+/merge_requests/(\d+)/notes"
    comments = github if tool == "gh" else gitlab
    one = r"repos/[^/]+/[^/]+/issues/comments/(\d+)" if tool == "gh" else comments + r"/(\d+)"
    if (m := re.fullmatch(comments, path)) and method == "GET":
        return [c for c in store["comments"] if c["on"] == m.group(1)]
    if (m := re.fullmatch(comments, path)) and method == "POST":
        store["comments"].append({"id": len(store["comments"]) + 1, "on": m.group(1), "body": fields["body"]})
        return store["comments"][-1]
    if (m := re.fullmatch(one, path)) and method in ("PATCH", "PUT"):
        comment = next(c for c in store["comments"] if c["id"] == int(m.groups()[-1]))
        comment["body"] = fields["body"]
        return comment
    return labels(tool, method, path, fields, store)


def labels(tool: str, method: str, path: str, fields: dict[str, str], store: dict[str, Any]) -> Any:
    if tool == "gh" and re.fullmatch(r"repos/[^/]+/[^/]+/issues/\d+/labels", path) and method == "POST":
        store["labels"] = sorted(set(store["labels"]) | {fields["labels[]"]})
        return store["labels"]
    if tool == "gh" and (m := re.fullmatch(r"repos/[^/]+/[^/]+/issues/\d+/labels/(.+)", path)) and method == "DELETE":
        if m.group(1) not in store["labels"]:
            sys.exit("HTTP 404: Label does not exist")
        store["labels"].remove(m.group(1))
        return {}
    if tool == "glab" and re.fullmatch(r"projects/\d+/merge_requests/\d+", path) and method == "PUT":
        added = set(store["labels"]) | {fields.get("add_labels")}
        store["labels"] = sorted(added - {fields.get("remove_labels"), None})
        return {"labels": store["labels"]}
    sys.exit(f"fake forge: no route for {tool} {method} {path}")


def jq_select(expr: str, data: Any) -> str:
    """The recipe's one filter: `.[] | select(.body | startswith("M")) | .id`."""
    m = re.fullmatch(r'\.\[\] \| select\(\.body \| startswith\(("(?:[^"\\]|\\.)*")\)\) \| \.id', expr)
    if m is None:
        sys.exit(f"fake forge: unsupported --jq {expr!r}")
    marker = json.loads(m.group(1))
    return "".join(f"{c['id']}\n" for c in data if c["body"].startswith(marker))


def main() -> None:
    tool, args = sys.argv[1], sys.argv[2:]
    if not os.environ.get(TOKENS[tool]):
        sys.exit(f"{tool}: not authenticated ({TOKENS[tool]} unset)")
    if not args or args[0] != "api":
        sys.exit(f"fake forge: only `{tool} api` is faked")
    method, path, fields, jq = parse(args[1:])
    state = Path(os.environ["FAKE_FORGE_STATE"])
    store = json.loads(state.read_text()) if state.exists() else {"comments": [], "labels": []}
    with open(os.environ["FAKE_FORGE_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": tool, "method": method, "path": path, "fields": fields}) + "\n")
    result = route(tool, method, path, fields, store)
    state.write_text(json.dumps(store))
    sys.stdout.write(jq_select(jq, result) if jq else json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
