"""Terminal text: colour only when asked, alignment, hints, exit-code wording."""

from __future__ import annotations

import re
from dataclasses import replace

from metorial_apply.planning.plan import Action, Change, FieldDiff, Plan
from metorial_apply.render import render_text
from tests.render.plans import CONTEXT, addr, empty_plan, full_plan

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_no_colour_unless_asked() -> None:
    assert "\x1b" not in render_text(full_plan(), CONTEXT)


def test_colour_only_adds_escape_codes() -> None:
    plain = render_text(full_plan(), CONTEXT)
    coloured = render_text(full_plan(), CONTEXT, color=True)
    assert coloured != plain
    assert ANSI.sub("", coloured) == plain


def test_markers_get_their_colours() -> None:
    coloured = render_text(full_plan(), CONTEXT, color=True)
    assert "\x1b[32m+ config.linear-prod\x1b[0m" in coloured
    assert "\x1b[33m~ deployment.github\x1b[0m" in coloured
    assert "\x1b[35m-/+ config.github-prod\x1b[0m" in coloured
    assert "\x1b[31m- auth_config.old-oauth\x1b[0m" in coloured


def test_reasons_line_up_in_one_column() -> None:
    lines = render_text(full_plan(), CONTEXT).splitlines()
    start = lines.index("Plan: 3 to create, 2 to update, 1 to replace, 1 to delete.")
    heads = [line for line in lines[start:] if re.match(r"^  (\+|~|-/\+|-) ", line)]
    columns = {
        line.index(reason)
        for line, reason in zip(
            heads,
            ["not in live state"] * 3
            + ["description, tools", "description, providers", "value changed", "not in config"],
            strict=False,
        )
    }
    assert len(heads) == 7 and len(columns) == 1


def test_long_values_are_shown_whole_and_wrapped() -> None:
    plan = Plan(
        stack="s",
        changes=(
            Change(
                action=Action.UPDATE,
                address=addr("deployment.a"),
                reason="description changed",
                diffs=(FieldDiff(field="description", before="x" * 500, after="y"),),
            ),
        ),
    )
    lines = render_text(plan, CONTEXT).splitlines()
    start = next(i for i, line in enumerate(lines) if "description  " in line)
    shown = lines[start:start + 8]
    assert all(len(line) < 120 for line in shown)  # wrapped, whole: every x of the change is there
    assert "".join(shown).count("x") == 500 and "{+y+}" in "".join(shown)


def test_a_long_list_or_object_is_never_cut_on_create_or_update() -> None:
    """Issue 23 item 4: reviewers approved tool lists the text plan cut at ~80 characters."""
    tools = [f"tool_number_{i:02d}" for i in range(30)]
    metadata = {f"key-{i}": f"value-{i}" * 3 for i in range(12)}
    plan = Plan(stack="s", changes=(
        Change(action=Action.CREATE, address=addr("deployment.a"), reason="not in live state",
               after={"provider": "github", "tools": tools}),
        Change(action=Action.UPDATE, address=addr("deployment.b"), reason="metadata changed",
               diffs=(FieldDiff(field="metadata", before={"k": "v"}, after=metadata),)),
    ))
    text = render_text(plan, CONTEXT)
    assert "…" not in text
    assert all(len(line) < 130 for line in text.splitlines())
    flat = " ".join(line.strip() for line in text.splitlines())
    assert all(t in flat for t in tools) and all(f"{k}: {v}" in flat for k, v in metadata.items())
    assert "{k: v}" in flat and "→ {key-0: value-0value-0value-0" in flat


def test_no_changes() -> None:
    text = render_text(empty_plan(), CONTEXT)
    assert "No changes. Live state matches the configuration." in text
    assert "Apply with" not in text and "Plan:" not in text


def test_non_destructive_plan_hints_exit_code_2() -> None:
    plan = Plan(stack="s", changes=tuple(c for c in full_plan().changes if not c.destructive))
    assert text_footer(plan) == "Apply with: metorial-apply apply prod/   (exit code 2 with --detailed-exitcode)"


def test_destructive_wording_names_what_is_present() -> None:
    deletes = Plan(stack="s", changes=tuple(c for c in full_plan().changes if c.action is not Action.REPLACE))
    assert text_footer(deletes).endswith("(exit code 3 with --detailed-exitcode: deletes present)")
    replaces = Plan(stack="s", changes=tuple(c for c in full_plan().changes if c.action is not Action.DELETE))
    assert text_footer(replaces).endswith("(exit code 3 with --detailed-exitcode: replacements present)")


def test_apply_hint_prefers_a_saved_plan_and_quotes_paths() -> None:
    ctx = replace(CONTEXT, saved_plan="my plans/plan.json")
    assert "Apply with: metorial-apply apply 'my plans/plan.json'" in render_text(full_plan(), ctx)
    assert "Apply with: metorial-apply apply <path>" in render_text(full_plan(), replace(CONTEXT, config_path=None))


def test_apply_showing_its_own_plan_has_no_next_step_line() -> None:
    text = render_text(full_plan(), replace(CONTEXT, next_step=False))
    assert "Apply with" not in text and "Plan:" in text


def test_header_without_stats() -> None:
    text = render_text(full_plan(), replace(CONTEXT, stats=None, api_url="local"))
    assert text.startswith("metorial-apply plan · stack production · local\n\n")
    assert "Read live state" not in text


def test_delete_lists_no_fields_in_a_terminal() -> None:
    lines = render_text(full_plan(), CONTEXT).splitlines()
    i = next(i for i, line in enumerate(lines) if "- auth_config.old-oauth" in line)
    assert lines[i + 1] == ""


def text_footer(plan: Plan) -> str:
    return render_text(plan, CONTEXT).rstrip("\n").splitlines()[-1]
