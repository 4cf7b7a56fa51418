"""The scheduled drift check: plan every unit; one open issue per drifted unit (found by its
marker among the bot's own issues), edited on each run, closed once the unit plans clean."""

from __future__ import annotations

from . import tool
from .flows import fresh
from .forge import Forge, Issue
from .settings import Settings

LABEL = "metorial-drift"
BODY_LIMIT = 65_536  # GitHub's limit for an issue body; GitLab's is larger


def marker(unit: str) -> str:
    return f"<!-- metorial-apply:drift {unit} -->"


def cause(last: tuple[str, str] | None, workflow: str) -> str:
    """A plan that differs from live state is drift only if main's last apply succeeded: after a
    failed one, the difference may be main's own unapplied changes."""
    if last is None:
        return f"No finished run of `{workflow}` on main was found: these differences may be changes never applied."
    conclusion, url = last
    if conclusion == "success":
        return (f"The last apply on main [succeeded]({url}), so this is **drift**: live objects were changed "
                "outside this repository. Re-run the apply to restore them, or change the YAML to keep them.")
    return (f"The last apply on main [ended `{conclusion}`]({url}): these differences may be main's own changes "
            "that were never applied, **not drift**. Look at that run first.")


def body(unit: str, plan_markdown: str, why: str) -> str:
    head = f"{marker(unit)}\n{why}\n\n"
    room = BODY_LIMIT - len(head) - 100
    if len(plan_markdown) > room:
        plan_markdown = plan_markdown[:room] + "\n\n… (cut to fit: the run's log has the whole plan)"
    return head + plan_markdown


def drift(forge: Forge, settings: Settings) -> int:
    out_dir = fresh(settings.out_dir)
    code = tool.plan(["--all"], out_dir, out_dir / "plan.md", settings.rate_limit)
    issues: dict[str, Issue] = {}
    for issue in forge.open_issues(LABEL):
        if issue.author == forge.bot:  # anyone may open an issue with the label and a marker
            issues.setdefault(issue.body.split("\n", 1)[0].strip(), issue)
    failed, why = [], None
    for unit in tool.units(["--all"]):
        saved, issue = tool.saved_plan(out_dir, unit), issues.get(marker(unit.name))
        if saved is None:
            failed.append(unit.name)  # its issue stays as it was: a failed plan says nothing of drift
        elif tool.exit_of(saved) == 0 and issue is not None:
            forge.close_issue(issue, f"`{unit.name}` plans clean again: closing.")
        elif tool.exit_of(saved) != 0:
            why = why or cause(forge.last_apply(), settings.apply_workflow)
            text = body(unit.name, tool.markdown_of(out_dir, unit), why)
            if issue is None:
                forge.create_issue(f"Drift: {unit.name}", text, LABEL)
            else:
                forge.edit_issue(issue, text)
            print(f"metorial-ci: {unit.name} has drifted ({'issue updated' if issue else 'issue opened'})")
    if failed or code == 1:
        print(f"metorial-ci: the plan of {', '.join(failed) or 'the workspace'} failed", flush=True)
        return 1
    return 0
