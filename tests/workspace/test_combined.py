"""Several stacks' plans as one report: order, exit codes, the comment's size limit, errors."""

from __future__ import annotations

import json

from metorial_apply.planning.plan import Plan
from metorial_apply.render.combined import (
    StackReport,
    combined_exit,
    combined_json,
    combined_markdown,
    combined_text,
    marker,
    shares,
    single_markdown,
)
from metorial_apply.render.markdown import GITHUB_COMMENT_LIMIT
from tests.render.plans import CANARY, CONTEXT, big_plan, empty_plan, full_plan


def report(name: str, plan: Plan | None, exit_code: int, error: tuple[str, ...] = ()) -> StackReport:
    return StackReport(name, name.replace("/", "-"), exit_code, plan=plan, context=CONTEXT if plan else None,
                       error=error, checksum="sha256:" + "ab" * 32 if plan else None)


def sample() -> list[StackReport]:
    return [report("a/staging", empty_plan(), 0), report("a/prod", full_plan(), 3),
            report("b/staging", None, 1, ("Error: stacks/b/stack.yaml:3:1: bad `thing`",)),
            report("b/prod", big_plan(3), 2)]


def test_destructive_first_then_failures_changes_and_none() -> None:
    text = combined_markdown("acme", sample())
    assert text.startswith(marker("acme") + "\n## metorial-apply · acme · 4 stacks · 1 destructive · 1 failed · "
                           "1 changes · 1 no changes\n")
    order = [text.index(s) for s in ("metorial-apply:plan a/prod", "· b/staging · plan failed",
                                     "metorial-apply:plan b/prod", "metorial-apply:plan a/staging")]
    assert order == sorted(order)
    assert "<!-- metorial-apply:plan a/prod sha256:" + "ab" * 32 + " -->" in text


def test_a_failed_stack_shows_its_error_in_a_fence_its_backticks_cannot_close() -> None:
    reports = [report("b/staging", None, 1, ("Error: ```\n## Plan: 0 to create", "\x1b[31mred"))]
    text = combined_markdown("acme", reports)
    assert "````\nError: ```\\n## Plan: 0 to create\n\\x1b[31mred\n````" in text
    assert "\x1b" not in text


def test_exit_code_is_one_if_any_failed_else_the_highest() -> None:
    assert combined_exit(sample(), detailed=True) == 1
    assert combined_exit(sample()[:2], detailed=True) == 3
    assert combined_exit([sample()[0], sample()[3]], detailed=True) == 2
    assert combined_exit(sample()[:2], detailed=False) == 0
    assert combined_exit([], detailed=True) == 0


def test_the_comment_stays_within_the_limit_and_folds_detail_of_the_largest_stack() -> None:
    reports = [report("a/prod", full_plan(), 3), report("huge/prod", big_plan(3000), 2),
               report("b/staging", None, 1, ("Error: no",))]
    text = combined_markdown("acme", reports)
    assert len(text) <= GITHUB_COMMENT_LIMIT
    # The small stack keeps every detail; the huge one says what it left out and where the rest is.
    whole = single_markdown(reports[0]).split("\n", 1)[1]
    assert whole in text
    assert "*Left out to stay under" in text and "Error: no" in text
    small = combined_markdown("acme", reports, limit=20_000)
    assert len(small) <= 20_000 and "metorial-apply:plan huge/prod" in small


def test_shares_give_small_sections_all_they_want_and_split_the_rest() -> None:
    assert shares([100, 5000, 8000], 6000) == [100, 2950, 2950]
    assert shares([100, 200], 6000) == [100, 200]
    assert sum(shares([7000, 7000, 7000], 9000)) <= 9000


def test_single_stack_comment_has_the_stacks_marker() -> None:
    text = single_markdown(report("a/prod", full_plan(), 3))
    assert text.startswith("<!-- metorial-apply:a/prod -->\n<!-- metorial-apply:plan a/prod sha256:")


def test_text_and_json_name_every_stack_and_no_secret() -> None:
    text = combined_text(sample())
    assert "=== a/prod (stack a-prod) ===" in text and "Error: stacks/b/stack.yaml:3:1" in text
    assert text.splitlines()[-5:] == ["Stacks: 4", "  a/staging  no changes", "  a/prod     3 create · 2 update · "
                                      "1 replace · 1 delete", "  b/staging  see its section",
                                      "  b/prod     1 create · 1 update · 1 delete"]
    data = json.loads(combined_json("acme", sample(), {"a/prod": {"x": 1}}))
    assert data["workspace"] == "acme" and [s["name"] for s in data["stacks"]] == [r.name for r in sample()]
    assert data["stacks"][1]["plan"] == {"x": 1} and data["stacks"][2]["error"].startswith("Error:")
    for out in (text, combined_markdown("acme", sample())):
        assert CANARY not in out
