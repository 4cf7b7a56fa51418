"""Every renderer over a realistic plan (every action, drift, a secret change, a sensitive
field, template-provider diffs) matches its reviewed golden file byte for byte."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from metorial_apply.planning.plan import Plan
from metorial_apply.planning.safety import blocked
from metorial_apply.render import RenderContext, render_json, render_markdown, render_text
from tests.render.golden_files import check_golden
from tests.render.plans import CONTEXT, adopt_plan, empty_plan, full_plan, key_plan


def context_for(plan: Plan) -> RenderContext:
    """CONTEXT with what an apply in CI with no gate flag would refuse (the "Blocked" section)."""
    found = blocked(plan, ci=True, allow_delete=False, force=False, allow_empty=False,
                    desired_count=sum(1 for c in plan.changes if c.desired is not None),
                    live_count=sum(1 for c in plan.changes if c.live is not None))
    return replace(CONTEXT, blocked=found)


RENDERERS = {
    "plan.txt": lambda p: render_text(p, context_for(p)),
    "plan.md": lambda p: render_markdown(p, context_for(p)),
    "plan.json": lambda p: render_json(p, context_for(p)),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_full_plan_matches_golden(name: str) -> None:
    check_golden(name, RENDERERS[name](full_plan()))


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_adoption_plan_matches_golden(name: str) -> None:
    """import, takeover, move and forget, with their notes (adopt.txt, adopt.md, adopt.json)."""
    check_golden("adopt" + name[len("plan"):], RENDERERS[name](adopt_plan()))


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_key_plan_matches_golden(name: str) -> None:
    """api keys created, rotated, re-created after a lost secret and deleted (keys.txt, .md, .json)."""
    check_golden("keys" + name[len("plan"):], RENDERERS[name](key_plan()))


@pytest.mark.parametrize("name", ["empty.txt", "empty.md"])
def test_empty_plan_matches_golden(name: str) -> None:
    check_golden(name, RENDERERS["plan" + name[len("empty"):]](empty_plan()))


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_same_input_gives_byte_identical_output(name: str) -> None:
    assert RENDERERS[name](full_plan()) == RENDERERS[name](full_plan())


@pytest.mark.parametrize("name", ["plan.txt", "plan.md"])
def test_display_order_does_not_depend_on_execution_order(name: str) -> None:
    plan = full_plan()
    shuffled = list(plan.changes)
    random.Random(7).shuffle(shuffled)
    assert shuffled != list(plan.changes)
    other = Plan(stack=plan.stack, changes=tuple(shuffled), config_path=plan.config_path,
                 live_fingerprints=plan.live_fingerprints, notes=plan.notes)
    assert RENDERERS[name](other) == RENDERERS[name](plan)


def test_text_orders_by_action_then_kind_then_name() -> None:
    heads = [line.split()[:2] for line in render_text(full_plan(), CONTEXT).splitlines()
             if line.startswith("  ") and not line.startswith("    ") and "." in line]
    plan_rows = [h for h in heads if h[0] in ("+", "~", "-/+", "-")][1:]  # first is the drift section's
    assert plan_rows == [
        ["+", "deployment.slack"], ["+", "config.linear-prod"], ["+", "session_template.triage"],
        ["~", "deployment.github"], ["~", "session_template.support"],
        ["-/+", "config.github-prod"], ["-", "auth_config.old-oauth"],
    ]


def test_json_golden_is_valid_json_with_sorted_keys() -> None:
    text = render_json(full_plan(), CONTEXT)
    assert text.endswith("}\n")
    assert json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n" == text
