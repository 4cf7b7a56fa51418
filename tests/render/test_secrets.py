"""Canary secrets never reach any rendered output, even when the plan itself slips up."""

from __future__ import annotations

import pytest

from metorial_apply.core.model import SecretValue
from metorial_apply.planning.plan import Action, Change, FieldDiff, Plan
from metorial_apply.render import render_json, render_markdown, render_text
from tests.render.plans import CANARY, CANARY_ENV, CONTEXT, addr, full_plan, resource

LEAK = "canary-leak-2c4e6a8b-never-print-me"


def leaky_plan() -> Plan:
    """Secrets where a buggy planner might leave them: raw in before/after of sensitive fields,
    inside secret diffs, as SecretValue objects in a spec, and in desired resources."""
    desired = resource("deployment.api", {"name": "api", "description": LEAK, "metadata": {"token": LEAK}},
                       sensitive=frozenset({"description", "metadata.token"}), secret={"k": LEAK})
    return Plan(stack="production", changes=(
        Change(action=Action.CREATE, address=addr("deployment.api"), reason="not in live state", desired=desired,
               after={"name": "api", "description": LEAK, "metadata": {"token": LEAK, "team": "ok"},
                      "value": SecretValue(LEAK)}),
        Change(action=Action.UPDATE, address=addr("deployment.web"), reason="description changed",
               desired=resource("deployment.web", {"name": "web"}, sensitive=frozenset({"description"})),
               diffs=(FieldDiff(field="description", before=LEAK, after=LEAK + "2"),
                      FieldDiff(field="value", before=LEAK, after=LEAK, secret=True))),
        Change(action=Action.REPLACE, address=addr("config.db"), reason="value changed (secret)",
               desired=resource("config.db", {"name": "db"}, secret={"password": LEAK}),
               diffs=(FieldDiff(field="value", before=LEAK, after=LEAK, secret=True),)),
    ))


OUTPUTS = {
    "text": lambda p: render_text(p, CONTEXT),
    "text-color": lambda p: render_text(p, CONTEXT, color=True),
    "markdown": lambda p: render_markdown(p, CONTEXT),
    "markdown-small": lambda p: render_markdown(p, CONTEXT, limit=400),
    "json": lambda p: render_json(p, CONTEXT),
}


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_realistic_plan_never_shows_secrets(output: str) -> None:
    text = OUTPUTS[output](full_plan())
    assert CANARY not in text and CANARY_ENV not in text
    assert "(secret" in text


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_planner_slips_are_redacted(output: str) -> None:
    text = OUTPUTS[output](leaky_plan())
    assert LEAK not in text
    assert "***" not in text  # not even SecretValue's own repr


def test_secret_and_sensitive_fields_say_so() -> None:
    text = render_text(leaky_plan(), CONTEXT)
    assert "description  (secret)" in text  # a create's sensitive field
    assert "value        (secret)" in text  # a create's write-only value
    assert "description  (secret changed)" in text  # an update of a sensitive field
    assert "metadata     {token: (secret), team: ok}" in text  # a sensitive path inside an object


def test_json_marks_secret_diffs_without_values() -> None:
    text = render_json(leaky_plan(), CONTEXT)
    assert '"secret": true' in text
    assert text.count('"(secret)"') >= 4
