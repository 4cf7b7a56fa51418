"""The run's waiting: one budget for every sleep the client takes (retry backoff, a server's
wait hint, the client-side rate limiter), and a notice for people every 10 s of it.

A run never waits silently and never waits without end: each wait announces what it is for
(the CLI prints the notices; nothing here prints), and once the run has waited `total_s` in all
— wall time during which at least one request was waiting, so eight requests waiting the same
minute spend one minute — the next wait stops the run with an error naming what it waited for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from metorial_apply.api.defaults import DEFAULT_MAX_WAIT_S
from metorial_apply.core.errors import ApiCall, ApiError

NOTICE_EVERY_S = 10.0
# Sleeps may end a clock tick early and clocks move while we compute: "10 s" is 10 s give or take this.
SLACK_S = 0.05


@dataclass(frozen=True)
class WaitNotice:
    """Someone is waiting: for what, how much longer, and how much of the budget is spent."""

    what: str
    seconds_left: float
    waited_s: float  # the run's waiting so far
    budget_s: float
    first: bool  # the start of this wait (else it is still going)


class WaitBudgetSpent(Exception):
    """A wait would pass the run's budget; the client turns it into WaitBudgetExceededError."""

    def __init__(self, what: str, seconds: float, waited_s: float, budget_s: float) -> None:
        self.what, self.seconds, self.waited_s, self.budget_s = what, seconds, waited_s, budget_s
        super().__init__(what)


class WaitBudgetExceededError(ApiError):
    """The run waited as long as --max-wait allows; names the call and what it was waiting for."""

    def __init__(self, call: ApiCall, spent: WaitBudgetSpent) -> None:
        self.what = spent.what
        super().__init__(call, None, "wait_budget_spent", (
            f"stopped instead of waiting {spent.seconds:.0f} s more for {spent.what}: the run has waited "
            f"{spent.waited_s:.0f} s of its {spent.budget_s:g} s budget (--max-wait)"
        ))


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]


class WaitBudget:
    """Every sleep of one run goes through `wait`, which spends the budget and sends notices."""

    def __init__(self, total_s: float = DEFAULT_MAX_WAIT_S, *, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep, on_notice: Callable[[WaitNotice], None] | None = None) -> None:
        if total_s < 0:
            raise ValueError("the wait budget must be >= 0 seconds")
        self.total_s = total_s
        self._clock, self._sleep, self._on_notice = clock, sleep, on_notice
        self._closed = 0.0  # waiting in finished stretches (when nobody waited in between)
        self._since: float | None = None  # start of the current stretch, while anyone waits
        self._waiters = 0
        self._noticed_at = 0.0  # spent() at the last notice
        self._notice_clock: float | None = None  # clock() at the last notice

    def spent(self) -> float:
        """Seconds of the run during which at least one request was waiting."""
        running = self._clock() - self._since if self._since is not None else 0.0
        return self._closed + running

    async def wait(self, seconds: float, what: str) -> None:
        """Sleep `seconds` for `what`, or raise WaitBudgetSpent at once if that would pass the budget."""
        if seconds <= 0:
            return
        if self.spent() + seconds > self.total_s:
            raise WaitBudgetSpent(what, seconds, self.spent(), self.total_s)
        self._enter()
        end, first = self._clock() + seconds, True
        try:
            while (left := end - self._clock()) > 0:
                self._maybe_notice(what, left, first)
                first = False
                await self._sleep(min(left, NOTICE_EVERY_S))
        finally:
            self._leave()

    def _maybe_notice(self, what: str, left: float, first: bool) -> None:
        """A long wait speaks at its start and every 10 s; short waits speak once they add up to
        10 s. One notice per 10 s however many requests wait at once."""
        every = NOTICE_EVERY_S - SLACK_S
        unreported = self.spent() - self._noticed_at
        quiet_for = self._clock() - self._notice_clock if self._notice_clock is not None else None
        long_and_quiet = left >= every and (quiet_for is None or quiet_for >= every)
        if self._on_notice is None or not (unreported >= every or long_and_quiet) or (not first and left < 1):
            return
        self._noticed_at, self._notice_clock = self.spent(), self._clock()
        self._on_notice(WaitNotice(what, left, self._noticed_at, self.total_s, first))

    def _enter(self) -> None:
        if self._waiters == 0:
            self._since = self._clock()
        self._waiters += 1

    def _leave(self) -> None:
        self._waiters -= 1
        if self._waiters == 0 and self._since is not None:
            self._closed += self._clock() - self._since
            self._since = None
