"""What a run was asked to do, read from METORIAL_CI_* variables (action.yml maps its inputs to
them; the GitLab recipe sets them), so both forges drive the same flows."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class Settings:
    stacks: list[str]
    changed_since: str
    all_units: bool
    comment: bool
    rate_limit: str
    pull: str  # the PR / MR number to comment on; empty outside a review
    sha: str  # the commit an apply runs for
    approval: str  # how a destructive apply is approved: "review" or "environment"
    bot: str  # the login whose comments are ours: nobody else's marker is trusted
    out_dir: Path
    api_url: str  # a matrix job's one unit: its URL and key, given under the generic names
    api_key: str
    apply_workflow: str

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        get = lambda name, default="": env.get(f"METORIAL_CI_{name}", default).strip()  # noqa: E731
        return cls(stacks=get("STACKS").split(), changed_since=get("CHANGED_SINCE"), all_units=flag(get("ALL")),
                   comment=flag(get("COMMENT", "true")), rate_limit=get("RATE_LIMIT"), pull=get("PULL"),
                   sha=get("SHA"), approval=get("APPROVAL", "review") or "review",
                   bot=get("BOT", "github-actions[bot]"), out_dir=Path(get("OUT_DIR", ".metorial-apply/ci")),
                   api_url=get("API_URL"), api_key=env.get("METORIAL_CI_API_KEY", ""),
                   apply_workflow=get("APPLY_WORKFLOW", "metorial-apply.yml"))

    def selection(self) -> list[str]:
        """The units as `metorial-apply` selects them: names, --all or --changed-since."""
        chosen = [bool(self.stacks), self.all_units, bool(self.changed_since)]
        if sum(chosen) != 1:
            raise SystemExit("metorial-ci: give exactly one of stacks, all or changed-since")
        if self.stacks:
            return list(self.stacks)
        return ["--all"] if self.all_units else ["--changed-since", self.changed_since]
