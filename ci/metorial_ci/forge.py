"""What the flows need from a forge (GitHub or GitLab), and the rules built on it that must be
the same on both: which comments are ours, which plan was reviewed, whether it was approved."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

MARKER = re.compile(r"<!-- metorial-apply:[^\s>]+ -->")
PLAN_LINE = re.compile(r"<!-- metorial-apply:plan (\S+) (\S+) -->")


@dataclass(frozen=True)
class Comment:
    id: str
    author: str
    body: str
    updated_at: str


@dataclass(frozen=True)
class Pull:
    number: str
    author: str


@dataclass(frozen=True)
class Approval:
    author: str
    at: str
    approved: bool  # False: the reviewer's later word took it back (changes requested)


@dataclass(frozen=True)
class Issue:
    number: str
    author: str
    body: str


class Forge(Protocol):
    bot: str

    def comments(self, pull: str) -> list[Comment]: ...
    def create_comment(self, pull: str, body: str) -> None: ...
    def edit_comment(self, pull: str, comment: Comment, body: str) -> None: ...
    def set_label(self, pull: str, label: str, present: bool) -> None: ...
    def pull_of_commit(self, sha: str) -> Pull | None: ...
    def approvals(self, pull: Pull) -> list[Approval]: ...
    def open_issues(self, label: str) -> list[Issue]: ...
    def create_issue(self, title: str, body: str, label: str) -> None: ...
    def edit_issue(self, issue: Issue, body: str) -> None: ...
    def close_issue(self, issue: Issue, note: str) -> None: ...
    def last_apply(self) -> tuple[str, str] | None: ...  # (conclusion, address) of the last apply run


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def ours(forge: Forge, comments: list[Comment]) -> list[Comment]:
    """The bot's own comments, oldest first: anyone can write a marker into a comment, so a
    marker or plan line in another author's comment is never read nor edited."""
    return sorted((c for c in comments if c.author == forge.bot), key=lambda c: when(c.updated_at))


def upsert_comment(forge: Forge, pull: str, body: str) -> None:
    """Edit the bot's comment that starts with the same marker, or post one."""
    marker = body.split("\n", 1)[0].strip()
    if not MARKER.fullmatch(marker):
        raise SystemExit(f"metorial-ci: the plan's Markdown does not start with a marker: {marker[:80]!r}")
    mine = [c for c in ours(forge, forge.comments(pull)) if c.body.startswith(marker)]
    if mine:
        forge.edit_comment(pull, mine[-1], body)
        print(f"metorial-ci: updated the plan comment {marker}", flush=True)
    else:
        forge.create_comment(pull, body)
        print(f"metorial-ci: posted the plan comment {marker}", flush=True)


def reviewed_plans(forge: Forge, pull: str) -> dict[str, tuple[str, Comment]]:
    """Unit name → (checksum, comment) of the plan last posted on the review by the bot."""
    found: dict[str, tuple[str, Comment]] = {}
    for comment in ours(forge, forge.comments(pull)):
        for unit, checksum in PLAN_LINE.findall(comment.body):
            found[unit] = (checksum, comment)
    return found


def approved_after(forge: Forge, pull: Pull, comment: Comment) -> str | None:
    """Who approved the review after `comment` last changed, other than its author and the bot
    (an approval given before the plan it approves was posted approves another plan)."""
    latest: dict[str, Approval] = {}
    for approval in sorted(forge.approvals(pull), key=lambda a: when(a.at)):
        if when(approval.at) > when(comment.updated_at) and approval.author not in (pull.author, forge.bot):
            latest[approval.author] = approval
    return next((who for who, approval in latest.items() if approval.approved), None)
