"""When to retry an API call and how long to wait: pure decisions, no I/O.

Timeouts, connection errors and 5xx are retried `max_attempts` times with jittered exponential
backoff; a 429 is retried at the time the server announces (believed up to a cap per wait) for
as long as the run's wait budget lasts (api/waits.py), since other clients spending the same
budget is no reason to give up. Except
that a create (POST) is never re-sent once it may have reached the server: the API has no
idempotency keys, so a second POST could create a duplicate. A POST is retried only when the
server provably did not execute it: a 429 (rejected before execution) or a connection that
was never established.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum

import httpx

from metorial_apply.api.ratelimit import reset_seconds, server_clock

# Failures that happen before a single byte of the request left: safe to retry even for POST.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Verdict(Enum):
    """What to do after a failed attempt."""

    RETRY = "retry"
    FAIL = "fail"  # give up and raise the mapped error
    UNKNOWN = "unknown"  # a create may have happened: raise OutcomeUnknownError


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and backoff: delay n = min(cap, base·2ⁿ), half fixed and half random (equal jitter)."""

    max_attempts: int = 5
    base_delay_s: float = 0.25
    max_delay_s: float = 20.0
    max_rate_limit_wait_s: float = 60.0  # longest wait a 429's Retry-After/Reset is believed for
    # 429s are bounded by the run's wait budget; this count only stops a server that answers
    # 429 with no wait at all from being asked again without end.
    max_rate_limited_attempts: int = 1000

    def __post_init__(self) -> None:
        if min(self.max_attempts, self.max_rate_limited_attempts) < 1 or self.base_delay_s < 0 \
                or self.max_delay_s < 0 or self.max_rate_limit_wait_s < 0:
            raise ValueError("retry policy needs attempts >= 1 and non-negative delays")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay before attempt `attempt + 1` (attempt counts from 1)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def verdict_for_status(method: str, status: int, attempt: int, policy: RetryPolicy) -> Verdict:
    """After an error response: retry 429 always (`attempt` counts 429s only), 5xx unless a create
    (`attempt` counts the other failures)."""
    if not retryable_status(status):
        return Verdict.FAIL
    if status == 429:
        return Verdict.RETRY if attempt < policy.max_rate_limited_attempts else Verdict.FAIL
    if method == "POST":
        return Verdict.UNKNOWN
    return Verdict.RETRY if attempt < policy.max_attempts else Verdict.FAIL


def verdict_for_exception(method: str, exc: httpx.HTTPError, attempt: int, policy: RetryPolicy) -> Verdict:
    """After a transport failure: a create that may have been sent is an unknown outcome."""
    if not isinstance(exc, (httpx.TimeoutException, httpx.TransportError)):
        return Verdict.FAIL
    if method == "POST" and not isinstance(exc, NOT_SENT):
        return Verdict.UNKNOWN
    return Verdict.RETRY if attempt < policy.max_attempts else Verdict.FAIL


def server_wait(headers: Mapping[str, str], wall_now: float | None = None) -> float | None:
    """Seconds a 429 asks us to wait: Retry-After (seconds or HTTP date) first, else RateLimit-Reset
    when RateLimit-Remaining is 0 or absent; None = no instruction, use the backoff."""
    wall = server_clock(headers) if wall_now is None else wall_now
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        seconds = _retry_after_seconds(retry_after.strip(), wall)
        if seconds is not None:
            return seconds
    if _remaining(headers) > 0:
        # The window still has room, so this 429 is not about it (a burst guard, another
        # limit): its Reset, up to a whole window away, is not the wait; back off instead.
        return None
    reset = headers.get("ratelimit-reset")
    if reset is not None:
        try:
            return reset_seconds(float(reset.strip()), wall)
        except ValueError:
            return None
    return None


def _remaining(headers: Mapping[str, str]) -> float:
    try:
        return float(headers.get("ratelimit-remaining", "0").strip())
    except ValueError:
        return 0.0


def _retry_after_seconds(text: str, wall_now: float) -> float | None:
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - wall_now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def delay_for(status: int | None, headers: Mapping[str, str], attempt: int, policy: RetryPolicy,
              rng: random.Random, wall_now: float | None = None) -> float:
    """How long to sleep before the next attempt; a 429 waits what the server says, plus jitter."""
    if status == 429:
        asked = server_wait(headers, wall_now)
        if asked is not None:
            # At the time the server announces, believed up to the cap, plus a first backoff's
            # jitter: a Reset of 0 (a burst, another client's spike) must not spend every attempt
            # in the same instant, and our waiting requests should not all arrive at once. Not
            # the growing backoff: when other clients spend the budget, a slot that frees at the
            # announced time goes to whoever asks first.
            return min(policy.max_rate_limit_wait_s, asked) + policy.backoff(1, rng)
    return policy.backoff(attempt, rng)
