"""Markdown: size limit with honest omission, escaping of user values, structure."""

from __future__ import annotations

import re

import pytest

from metorial_apply.planning.plan import Action, Change, FieldDiff, Plan
from metorial_apply.render import render_markdown
from metorial_apply.render.markdown import code_span, md_text
from tests.render.plans import CONTEXT, addr, big_plan, full_plan

HOSTILE = "a|b `tick` <script>alert(1)</script> *bold* _it_ [link](http://x) ~~s~~ # h\nnext & done"


def test_two_thousand_resources_stay_under_the_limit_and_say_what_was_left_out() -> None:
    text = render_markdown(big_plan(2000), CONTEXT)
    assert len(text) <= 65536
    note = re.search(
        r"\*Left out to stay under 65,536 characters: details of ([\d,]+) changes? "
        r"and the list of ([\d,]+) unchanged resources\. The full plan is in the plan\.json artifact\.\*",
        text,
    )
    assert note, "omission note missing"
    shown = text.count("<details><summary><code>")
    assert shown + int(note.group(1).replace(",", "")) == 1533  # every change is shown or counted
    assert "unchanged</summary>" not in text  # the noop list goes first
    assert text.rstrip().endswith("metorial-apply 0.1.0</sub>")


def test_destructive_details_are_kept_longest() -> None:
    text = render_markdown(big_plan(2000), CONTEXT)
    deletes = text.count("<summary><code>- deployment")
    updates = text.count("<summary><code>~ deployment")
    assert deletes == 200  # all of them
    assert updates == 0  # updates went before creates


def test_the_limit_is_a_parameter_and_always_holds() -> None:
    for limit in (65536, 20000, 5000, 1500, 300):
        assert len(render_markdown(big_plan(300), CONTEXT, limit=limit)) <= limit


def test_fits_means_untouched() -> None:
    text = render_markdown(full_plan(), CONTEXT)
    assert "Left out" not in text
    assert text.count("<details>") == 8  # seven changes and the unchanged list


def test_without_hint_points_at_plan_output() -> None:
    ctx = CONTEXT.__class__(api_url="local")
    assert "The full plan is in the output of `metorial-apply plan`." in render_markdown(big_plan(500), ctx, limit=8000)


def test_destructive_summary_is_capped() -> None:
    line = next(
        line for line in render_markdown(big_plan(2000), CONTEXT).splitlines() if line.startswith("> **Destructive:**")
    )
    assert line.count("`- deployment") == 25
    assert line.endswith("… and 175 more")


def hostile_plan() -> Plan:
    return Plan(stack="prod`x", changes=(
        Change(action=Action.UPDATE, address=addr("deployment.web"), reason="description <changed>",
               diffs=(FieldDiff(field="description", before=HOSTILE, after="plain"),
                      FieldDiff(field="metadata", before={"k|1": "<b>"}, after={})),),
        Change(action=Action.DELETE, address=addr("deployment.x`y"), reason="not | in config"),
    ))


def test_values_are_escaped_in_tables() -> None:
    text = render_markdown(hostile_plan(), CONTEXT)
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;" in text
    for row in (line for line in text.splitlines() if line.startswith("| description")):
        unescaped = re.findall(r"(?<!\\)\|", row)
        assert len(unescaped) == 4, row  # three cells: the value's pipe is escaped
    assert "\\*bold\\*" in text and "\\[link\\]" in text and "\\`tick\\`" in text


def test_summaries_are_html_escaped_and_code_spans_survive_backticks() -> None:
    text = render_markdown(hostile_plan(), CONTEXT)
    assert "<summary><code>~ deployment.web</code> — description &lt;changed&gt;</summary>" in text
    assert "``- deployment.x`y`` — not \\| in config" in text
    assert text.startswith("### metorial-apply · ``prod`x`` · ")


def test_newlines_never_break_a_table_row() -> None:
    text = render_markdown(hostile_plan(), CONTEXT)
    rows = [line for line in text.splitlines() if line.startswith("| description")]
    assert len(rows) == 1 and "next &amp; done" in rows[0]


@pytest.mark.parametrize("raw, span", [("a", "`a`"), ("a`b", "``a`b``"), ("`a", "`` `a ``"), ("a``b", "```a``b```")])
def test_code_span(raw: str, span: str) -> None:
    assert code_span(raw) == span


def test_md_text_escapes_everything_that_formats() -> None:
    assert md_text("|`*_[]~#\\<>&") == "\\|\\`\\*\\_\\[\\]\\~\\#\\\\&lt;&gt;&amp;"
