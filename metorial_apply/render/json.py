"""A plan as machine-readable JSON (`plan --json`), documented in docs/plan-json.md.

The document is the saved-plan form (`saved.plan_to_dict`, so `apply` can load it) of the plan
after one more pass of the view's redaction, plus a few display facts (`api_url`,
`destructive`, `exit_code`), with the checksum recomputed over the result.
"""

from __future__ import annotations

from typing import Any

from metorial_apply.core import jsonout
from metorial_apply.core.fingerprint import FingerprintKey
from metorial_apply.core.model import Resource
from metorial_apply.planning.plan import Change, FieldDiff, Plan
from metorial_apply.planning.saved import checksum, plan_to_dict
from metorial_apply.render.values import SECRET
from metorial_apply.render.view import RenderContext, build_view, is_sensitive, redact, sensitive_of


def render_json(plan: Plan, context: RenderContext, *, key: FingerprintKey | None = None) -> str:
    """The plan as a JSON document with a trailing newline; byte-identical for equal input.
    With `key` the checksum is the saved-plan HMAC, so `apply` accepts the document."""
    return jsonout.dumps(plan_document(plan, context, key), sort_keys=True, indent=2) + "\n"


def plan_document(plan: Plan, context: RenderContext, key: FingerprintKey | None = None) -> dict[str, Any]:
    """The document as a dict, `checksum` included."""
    view = build_view(plan, context)
    body = {k: v for k, v in plan_to_dict(redacted_plan(plan), tool_version=context.version).items() if k != "checksum"}
    body |= {
        "api_url": context.api_url,
        "destructive": bool(view.destructive),
        "exit_code": view.exit_code,
        "notes": [{"address": a, "text": t} for a, t in view.notes],
        "blocked": [b.model_dump(mode="json") for b in context.blocked],
    } | ({"no_secrets": True} if context.no_secrets else {})
    return body | {"checksum": checksum(body, key)}


def redacted_plan(plan: Plan) -> Plan:
    """Defence in depth: the plan's own redaction, then the view's (sensitive paths, SecretValues,
    secret diffs), so a slip upstream never reaches a file. Resources are replaced by stubs that
    keep only which fields are sensitive (what `plan_to_dict` hides sub-resource values by)."""
    return plan.model_copy(update={"changes": tuple(redacted_change(c) for c in plan.changes)})


def redacted_change(change: Change) -> Change:
    sensitive = sensitive_of(change)
    return change.model_copy(update={
        "before": redact(change.before, "", sensitive) if change.before is not None else None,
        "after": redact(change.after, "", sensitive) if change.after is not None else None,
        "diffs": tuple(redacted_diff(d, sensitive) for d in change.diffs),
        "desired": _stub(change.desired), "live": _stub(change.live),
    })


def _stub(resource: Resource | None) -> Resource | None:
    if resource is None:
        return None
    return Resource(address=resource.address, spec={}, sensitive=resource.sensitive)


def redacted_diff(diff: FieldDiff, sensitive: frozenset[str]) -> FieldDiff:
    if diff.secret or is_sensitive(diff.field, sensitive):
        # A side that is None (a key of a secret value added or removed) stays None: no value there.
        return FieldDiff(field=diff.field, before=None if diff.before is None and diff.secret else SECRET,
                         after=None if diff.after is None and diff.secret else SECRET, secret=True)
    return FieldDiff(field=diff.field, before=redact(diff.before, diff.field, sensitive),
                     after=redact(diff.after, diff.field, sensitive))
