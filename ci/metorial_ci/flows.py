"""The review flows: validate, plan (comment + `destructive` label) and the gated apply of a
merged commit. Each returns the exit code for the job."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from . import tool
from .forge import Forge, Pull, approved_after, reviewed_plans, upsert_comment
from .settings import Settings

DESTRUCTIVE = "destructive"


def fresh(out_dir: Path) -> Path:
    """An empty output directory: a saved plan left by an earlier run must never pass for this one's."""
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    return out_dir


def validate(settings: Settings) -> int:
    return tool.run(["validate", *settings.selection()])


def plan_env(settings: Settings) -> dict[str, str] | None:
    """A matrix job's one unit gets its URL and key under the generic names: export them under
    the unit's own (a URL and key given for several units would be one key for all of them)."""
    if not (settings.api_url or settings.api_key):
        return None
    units = tool.units(settings.selection())
    if len(units) != 1:
        raise SystemExit("metorial-ci: api-url/api-key are for exactly one stack (a matrix job)")
    return tool.unit_env(units[0], settings.api_url, settings.api_key)


def plan(forge: Forge | None, settings: Settings) -> int:
    """Plan, then post or edit the comment (even for a failed plan: its Markdown carries the
    error) and set the informational `destructive` label."""
    out_dir = fresh(settings.out_dir)
    markdown = out_dir / "plan.md"
    code = tool.plan(settings.selection(), out_dir, markdown, settings.rate_limit, plan_env(settings))
    if forge is not None and settings.comment and settings.pull and markdown.is_file():
        upsert_comment(forge, settings.pull, markdown.read_text(encoding="utf-8"))
        if code != 1:  # a failed unit's plan is unknown: leave the label as the last plan set it
            forge.set_label(settings.pull, DESTRUCTIVE, code == 3)
    return code


def gate(forge: Forge, settings: Settings, pull: Pull, plans: dict[str, dict[str, Any]]) -> tuple[list[str], list[str]]:
    """What stops the apply: (units whose merged plan is not the reviewed one, units whose
    destructive plan nobody approved after it was posted)."""
    reviewed = reviewed_plans(forge, pull.number)
    moved, unapproved = [], []
    for name, saved in plans.items():
        checksum, comment = reviewed.get(name, ("", None))
        if comment is None or checksum != saved["checksum"]:
            moved.append(name)
        elif tool.exit_of(saved) == 3 and settings.approval != "environment":
            who = approved_after(forge, pull, comment)
            if who is None:
                unapproved.append(name)
            else:
                print(f"metorial-ci: {name}: destructive plan approved by {who} after it was posted", flush=True)
    return moved, unapproved


def apply(forge: Forge, settings: Settings) -> int:
    """Plan the merged commit per changed unit; apply only plans identical (by checksum) to the
    ones the bot last posted on the merged review, destructive ones only once approved after
    that. Otherwise post the new plan for review and fail, to be re-run: nothing is applied."""
    out_dir = fresh(settings.out_dir)
    markdown = out_dir / "plan.md"
    selection = settings.selection()
    code = tool.plan(selection, out_dir, markdown)
    units = tool.units(selection)
    saved = {unit.name: tool.saved_plan(out_dir, unit) for unit in units}
    if code == 1 or any(plan is None for plan in saved.values()):
        print("metorial-ci: a plan failed: nothing applied", flush=True)
        return 1
    pending = {name: plan for name, plan in saved.items() if plan and tool.exit_of(plan) != 0}
    if not pending:
        print("metorial-ci: no changes to apply", flush=True)
        return 0
    pull = forge.pull_of_commit(settings.sha)
    if pull is None:
        print(f"metorial-ci: {settings.sha} came from no pull request: no reviewed plan, nothing applied")
        return 1
    moved, unapproved = gate(forge, settings, pull, pending)
    if moved:
        upsert_comment(forge, pull.number, markdown.read_text(encoding="utf-8"))
        print(f"metorial-ci: the merged commit's plan of {', '.join(moved)} differs from the plan reviewed on "
              f"#{pull.number}; posted the new plan there: review it, then re-run this job. Nothing applied.")
        return 1
    if unapproved:
        print(f"metorial-ci: {', '.join(unapproved)} deletes or replaces: it needs an approving review of "
              f"#{pull.number} by someone other than its author, given after the plan comment. Nothing applied.")
        return 1
    failed = [u.name for u in units if u.name in pending
              and tool.apply_saved(out_dir, u, allow_delete=tool.exit_of(pending[u.name]) == 3)]
    return 1 if failed else 0
