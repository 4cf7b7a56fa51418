"""Several stacks' plans as one report: text for the terminal, one Markdown comment for a pull
request (a section per stack, destructive first, within the comment limit), JSON. Pure.

A stack whose plan failed has a section with its error, so a comment updated after a failed
plan says so instead of showing the last good plan. Each planned section carries a hidden line
`<!-- metorial-apply:plan NAME CHECKSUM -->`: the checksum of the stack's saved plan, which an
apply job compares with its own plan of the merged commit ("apply what was reviewed").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from metorial_apply.core import jsonout
from metorial_apply.core.inert import inert
from metorial_apply.planning.plan import Action, Plan
from metorial_apply.render.markdown import GITHUB_COMMENT_LIMIT, md_text, render_markdown
from metorial_apply.render.text import render_text
from metorial_apply.render.view import RenderContext

EXIT_ERROR = 1
# Section order: destructive first (what a reviewer must not miss), then failures, changes, none.
RANK = {3: 0, EXIT_ERROR: 1, 2: 2, 0: 3}
OUTCOME = {3: "destructive", EXIT_ERROR: "failed", 2: "with changes", 0: "unchanged"}
ERROR_CHARS = 4000  # one stack's error text in a comment


@dataclass(frozen=True)
class StackReport:
    """One stack's outcome: its plan (and how to render it), or the lines of its error."""

    name: str  # the workspace unit, e.g. support/staging
    stack: str
    exit: int  # 0/2/3 as --detailed-exitcode, or 1 when the plan failed
    plan: Plan | None = None
    context: RenderContext | None = None
    error: tuple[str, ...] = ()
    checksum: str | None = None

    def summary(self) -> str:
        if self.plan is None:
            return "see its section"
        counts = self.plan.counts()
        parts = [f"{n} {a.value}" for a, n in counts.items() if n and a is not Action.NOOP]
        return " · ".join(parts) or "no changes"


def marker(name: str) -> str:
    """The hidden first line a comment is found by: `metorial-apply:<workspace or stack>`."""
    return f"<!-- metorial-apply:{name} -->"


def ordered(reports: list[StackReport]) -> list[StackReport]:
    return sorted(reports, key=lambda r: RANK.get(r.exit, 1))


def combined_exit(reports: list[StackReport], detailed: bool) -> int:
    """1 if any stack failed; else the highest of 0/2/3 with --detailed-exitcode, else 0."""
    if any(r.exit == EXIT_ERROR for r in reports):
        return EXIT_ERROR
    return max((r.exit for r in reports), default=0) if detailed else 0


# -- text -----------------------------------------------------------------------------------


def combined_text(reports: list[StackReport], *, color: bool = False) -> str:
    """Each stack's text plan (or error) under its name, then one line per stack."""
    parts = []
    for r in reports:
        parts.append(f"=== {inert(r.name)} (stack {inert(r.stack)}) ===\n")
        if r.plan is not None and r.context is not None:
            parts.append(render_text(r.plan, r.context, color=color))
        else:
            parts.append("".join(f"{inert(line)}\n" for line in r.error))
        parts.append("\n")
    width = max((len(r.name) for r in reports), default=0)
    parts.append(f"Stacks: {len(reports)}\n")
    parts += [f"  {inert(r.name):<{width}}  {r.summary()}\n" for r in reports]
    return "".join(parts)


# -- JSON -----------------------------------------------------------------------------------


def combined_json(workspace: str, reports: list[StackReport], plans: dict[str, Any]) -> str:
    """`{"workspace", "stacks": [{name, stack, exit, plan | error}]}`; `plans`: name → plan JSON data."""
    rows = []
    for r in reports:
        row: dict[str, Any] = {"name": r.name, "stack": r.stack, "exit": r.exit}
        row |= {"plan": plans[r.name]} if r.name in plans else {"error": "\n".join(r.error)}
        rows.append(row)
    return jsonout.dumps({"format_version": 1, "workspace": workspace, "stacks": rows},
                         indent=2, sort_keys=True) + "\n"


# -- Markdown -------------------------------------------------------------------------------


def fenced(text: str) -> str:
    """A code block no backtick run in `text` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def error_section(r: StackReport) -> str:
    text = "\n".join(inert(line) for line in r.error)[:ERROR_CHARS]
    return f"### metorial-apply · {md_text(r.name)} · plan failed\n\n{fenced(text)}\n"


def section(r: StackReport, limit: int) -> str:
    if r.plan is None or r.context is None:
        return error_section(r)
    hidden = f"<!-- metorial-apply:plan {r.name} {json.dumps(r.checksum or '')[1:-1]} -->\n"
    return hidden + render_markdown(r.plan, r.context, limit=max(limit - len(hidden), 200))


def summary_table(reports: list[StackReport]) -> str:
    rows = ["| stack | name | outcome | changes |", "| --- | --- | --- | --- |"]
    rows += [f"| {md_text(r.name)} | {md_text(r.stack)} | {OUTCOME.get(r.exit, 'failed')} | "
             f"{md_text(r.summary()) if r.plan else ''} |" for r in reports]
    return "\n".join(rows)


def shares(wants: list[int], budget: int) -> list[int]:
    """Split `budget` between sections wanting `wants` characters: the small ones get all they
    want, the rest an equal share of what is left (water-filling)."""
    out = [0] * len(wants)
    left, pending = budget, sorted(range(len(wants)), key=lambda i: wants[i])
    while pending:
        fair = left // len(pending)
        i = pending.pop(0)
        out[i] = min(wants[i], fair)
        left -= out[i]
    return out


def combined_markdown(workspace: str, reports: list[StackReport], *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """One pull-request comment for every stack, at most `limit` characters."""
    reports = ordered(reports)
    counts = {o: sum(1 for r in reports if OUTCOME.get(r.exit, "failed") == o) for o in OUTCOME.values()}
    said = " · ".join(f"{n} {o}" for o, n in counts.items() if n) or "no stacks"
    head = (f"{marker(workspace)}\n## metorial-apply · {md_text(workspace)} · {len(reports)} "
            f"stack{'' if len(reports) == 1 else 's'} · {said}\n\n{summary_table(reports)}\n")
    full = [section(r, GITHUB_COMMENT_LIMIT) for r in reports]
    budget = limit - len(head) - 2 * len(reports)
    if sum(len(s) for s in full) <= budget:
        return "\n".join([head, *full])
    sized = shares([len(s) for s in full], max(budget, 0))
    fitted = (section(r, n) if n < len(s) else s for r, s, n in zip(reports, full, sized, strict=True))
    return "\n".join([head, *fitted])


def single_markdown(report: StackReport) -> str:
    """One stack's comment (matrix jobs): its marker, then its section."""
    return f"{marker(report.name)}\n" + section(report, GITHUB_COMMENT_LIMIT - len(marker(report.name)) - 1)
