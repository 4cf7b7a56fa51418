"""A plan as machine-readable JSON (`plan --json`), documented in docs/plan-json.md.

The document is the saved-plan form (`saved.plan_to_dict`, so `apply` can load it) plus a few
display facts (`api_url`, `destructive`, `exit_code`), with every value passed once more
through the view's redaction and the checksum recomputed over the result.
"""

from __future__ import annotations

import json
from typing import Any

from metorial_apply.plan import Change, Plan
from metorial_apply.render.values import SECRET
from metorial_apply.render.view import RenderContext, build_view, is_sensitive, redact, sensitive_of
from metorial_apply.saved import checksum, plan_to_dict


def render_json(plan: Plan, context: RenderContext) -> str:
    """The plan as a JSON document with a trailing newline; byte-identical for equal input."""
    return json.dumps(plan_document(plan, context), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def plan_document(plan: Plan, context: RenderContext) -> dict[str, Any]:
    """The document as a dict, `checksum` included."""
    view = build_view(plan, context)
    body = {k: v for k, v in plan_to_dict(plan, tool_version=context.version).items() if k != "checksum"}
    body["changes"] = [redact_entry(entry, change) for entry, change in zip(body["changes"], plan.changes)]
    body |= {
        "api_url": context.api_url,
        "destructive": bool(view.destructive),
        "exit_code": view.exit_code,
    }
    return body | {"checksum": checksum(body)}


def redact_entry(entry: dict[str, Any], change: Change) -> dict[str, Any]:
    """Defence in depth: the plan's own redaction, then the view's (sensitive paths, SecretValues,
    secret diffs), so a slip upstream never reaches a file."""
    sensitive = sensitive_of(change)
    clean = redact(entry, "", frozenset())
    for side in ("before", "after"):
        clean[side] = redact(entry.get(side), "", sensitive) if entry.get(side) is not None else None
    clean["diffs"] = [redact_diff(d, sensitive) for d in entry.get("diffs") or []]
    return clean


def redact_diff(diff: dict[str, Any], sensitive: frozenset[str]) -> dict[str, Any]:
    field = str(diff.get("field", ""))
    if diff.get("secret") or is_sensitive(field, sensitive):
        return diff | {"before": SECRET, "after": SECRET, "secret": True}
    return diff | {"before": redact(diff.get("before"), field, sensitive),
                   "after": redact(diff.get("after"), field, sensitive)}
