"""Readable diffs (issue 12 item 4): a long value is never cut mid-change. A 300-character
description with one word changed shows that word, removed and added, in text and Markdown
(real CLI, real-HTTP emulator); a long list shows the items added and removed."""

from __future__ import annotations

from pathlib import Path

from metorial_apply.core.model import Address
from metorial_apply.planning.plan import Action, Change, FieldDiff, Plan
from metorial_apply.render import render_markdown, render_text
from tests.apply.conftest import run_cli
from tests.apply.test_saved_forged import env, ok
from tests.emulator_server import EmulatorProcess
from tests.render.plans import CONTEXT

WORDS = " ".join(f"word{i:02d}" for i in range(50))  # 349 characters


def test_a_300_character_description_change_shows_the_changed_words(emulator: EmulatorProcess,
                                                                     tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(f'stack: words\ndeployments:\n  gh: {{provider: github, description: "{WORDS}"}}\n')
    ok(["apply", str(path), "--auto-approve"], emulator)
    path.write_text(path.read_text().replace("word25", "CHANGED"))
    text = run_cli(["plan", str(path)], env=env(emulator)).out
    assert "[-word25-]{+CHANGED+}" in text
    assert "word20" in text and "word30" in text and "word02" not in text  # context around it, the rest elided
    markdown = run_cli(["plan", str(path), "--markdown", "-"], env=env(emulator)).out
    assert "~~word25~~" in markdown and "**CHANGED**" in markdown


def test_a_long_list_shows_items_added_and_removed() -> None:
    before = [f"tool_{i:02d}" for i in range(20)]
    after = [t for t in before if t != "tool_07"] + ["tool_new"]
    plan = Plan(stack="s", changes=(Change(
        action=Action.UPDATE, address=Address.parse("deployment.a"), reason="tools changed",
        diffs=(FieldDiff(field="tools", before=before, after=after),)),))
    text = render_text(plan, CONTEXT)
    assert "- tool_07" in text and "+ tool_new" in text and "tool_19" not in text
    markdown = render_markdown(plan, CONTEXT)
    assert "removed: tool\\_07" in markdown and "added: tool\\_new" in markdown
