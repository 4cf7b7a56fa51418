"""What an apply did, per change: done, failed (with the API's message) or skipped (and why),
plus the residual plan, i.e. what is left to do. Pure values; the CLI renders them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metorial_apply.apply.ledger import Ledger
from metorial_apply.apply.schedule import Outcome
from metorial_apply.core.model import Address
from metorial_apply.planning.action import Action

PAST = {a.value: a.cls.past for a in Action if a.cls.past}


@dataclass(frozen=True)
class ChangeResult:
    """How one change ended. `error` is the API error text (status, code, message, method
    path, request id), which never holds a secret; `cause` names the failed change it needed."""

    address: Address
    action: str  # an Action value other than noop
    outcome: Outcome
    id: str | None = None
    old_id: str | None = None  # replace: the object deleted
    note: str = ""
    error: str | None = None
    cause: Address | None = None
    duration_s: float = 0.0

    @property
    def marker(self) -> str:
        return Action(self.action).marker

    def summary(self) -> str:
        """One line for people: `created pde_1`, `FAILED 400 …`, `skipped: depends on …`."""
        if self.outcome is Outcome.FAILED:
            return f"FAILED {self.error}"
        if self.outcome is Outcome.SKIPPED:
            return f"skipped: depends on {self.cause}" if self.cause else "skipped: not started (apply stopped)"
        text = PAST[self.action] + (f" {self.id}" if self.id else "")
        if self.old_id and self.action == "replace":
            text += f" (deleted {self.old_id})"
        return text + (f" — {self.note}" if self.note else "")


@dataclass(frozen=True)
class ApplyReport:
    """Every change's result in plan order, the wall time, and whether the run was stopped."""

    stack: str
    results: tuple[ChangeResult, ...] = ()
    elapsed_s: float = 0.0
    stopped: str | None = None  # "interrupted" | "fail-fast" | None
    stats: dict[str, Any] = field(default_factory=dict)  # API calls, retries, 429s
    ledger: Ledger = field(default_factory=Ledger)  # what was written (for the stack index)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def ok(self) -> bool:
        return self.stopped is None and all(r.outcome is Outcome.DONE for r in self.results)

    def residual(self) -> list[ChangeResult]:
        """What is left to do: every change that did not finish."""
        return [r for r in self.results if r.outcome is not Outcome.DONE]

    def residual_line(self) -> str:
        return ", ".join(f"{r.marker} {r.address}" for r in self.residual())

    def summary(self, verb: str = "Apply") -> str:
        s = self.stats
        calls = (
            f" {s.get('calls', 0)} API calls, {s.get('retries', 0)} retries, {s.get('rate_limited', 0)} × 429."
            if s
            else ""
        )
        stopped = f" Stopped ({self.stopped})." if self.stopped else ""
        return (f"{verb} finished in {self.elapsed_s:.1f} s: {self.count(Outcome.DONE)} done, "
                f"{self.count(Outcome.FAILED)} failed, {self.count(Outcome.SKIPPED)} skipped.{calls}{stopped}")
