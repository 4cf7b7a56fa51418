"""Retry decisions and waits: which failures are retried, and for how long."""

from __future__ import annotations

import random
from email.utils import formatdate

import httpx
import pytest

from metorial_apply.api.retry import (
    RetryPolicy,
    Verdict,
    delay_for,
    server_wait,
    verdict_for_exception,
    verdict_for_status,
)

WALL = 1_700_000_000.0
POLICY = RetryPolicy(max_attempts=3, base_delay_s=1.0, max_delay_s=8.0)


@pytest.mark.parametrize(("method", "status", "verdict"), [
    ("GET", 500, Verdict.RETRY), ("GET", 503, Verdict.RETRY), ("GET", 429, Verdict.RETRY),
    ("PATCH", 502, Verdict.RETRY), ("DELETE", 504, Verdict.RETRY),
    ("POST", 429, Verdict.RETRY), ("POST", 500, Verdict.UNKNOWN), ("POST", 504, Verdict.UNKNOWN),
    ("GET", 400, Verdict.FAIL), ("GET", 404, Verdict.FAIL), ("POST", 409, Verdict.FAIL), ("DELETE", 410, Verdict.FAIL),
])
def test_verdict_for_status(method: str, status: int, verdict: Verdict) -> None:
    assert verdict_for_status(method, status, 1, POLICY) is verdict


def test_retries_stop_at_max_attempts() -> None:
    assert verdict_for_status("GET", 500, 3, POLICY) is Verdict.FAIL
    assert verdict_for_status("POST", 429, 3, POLICY) is Verdict.RETRY  # 429s: bounded by the wait budget
    assert verdict_for_status("GET", 429, POLICY.max_rate_limited_attempts, POLICY) is Verdict.FAIL
    assert verdict_for_exception("GET", httpx.ReadTimeout("t"), 3, POLICY) is Verdict.FAIL


@pytest.mark.parametrize(("exc", "get", "post"), [
    (httpx.ConnectError("x"), Verdict.RETRY, Verdict.RETRY),
    (httpx.ConnectTimeout("x"), Verdict.RETRY, Verdict.RETRY),
    (httpx.PoolTimeout("x"), Verdict.RETRY, Verdict.RETRY),
    (httpx.ReadTimeout("x"), Verdict.RETRY, Verdict.UNKNOWN),
    (httpx.WriteTimeout("x"), Verdict.RETRY, Verdict.UNKNOWN),
    (httpx.RemoteProtocolError("x"), Verdict.RETRY, Verdict.UNKNOWN),
    (httpx.ReadError("x"), Verdict.RETRY, Verdict.UNKNOWN),
])
def test_verdict_for_exception(exc: httpx.HTTPError, get: Verdict, post: Verdict) -> None:
    assert verdict_for_exception("GET", exc, 1, POLICY) is get
    assert verdict_for_exception("POST", exc, 1, POLICY) is post


def test_backoff_is_exponential_capped_and_jittered() -> None:
    rng = random.Random(1)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [POLICY.backoff(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 100  # jittered, not one fixed value


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after": "7"}, 7.0),
    ({"retry-after": formatdate(WALL + 30, usegmt=True)}, 30.0),
    ({"ratelimit-reset": "12"}, 12.0),
    ({"ratelimit-reset": str(int(WALL + 40))}, 40.0),
    ({"ratelimit-reset": str(int((WALL + 2.5) * 1000))}, 2.5),
    ({"retry-after": "3", "ratelimit-reset": "50"}, 3.0),
    ({"retry-after": "soon", "ratelimit-reset": "5"}, 5.0),
    ({"ratelimit-reset": "later"}, None),
    ({"ratelimit-reset": "9", "ratelimit-remaining": "0"}, 9.0),
    ({"ratelimit-reset": "590", "ratelimit-remaining": "4000"}, None),  # a burst, not the window
    ({"retry-after": "2", "ratelimit-remaining": "4000"}, 2.0),
    ({}, None),
])
def test_server_wait(headers: dict[str, str], expected: float | None) -> None:
    got = server_wait(headers, WALL)
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_429_waits_what_the_server_says_plus_a_first_backoffs_jitter() -> None:
    rng = random.Random(0)
    assert 6.5 <= delay_for(429, {"ratelimit-reset": "6"}, 1, POLICY, rng, WALL) <= 7.0
    assert 0.5 <= delay_for(429, {"ratelimit-reset": "0"}, 1, POLICY, rng, WALL) <= 1.0
    # the jitter does not grow with the attempts: a slot another client may take frees at the reset
    assert 6.5 <= delay_for(429, {"ratelimit-reset": "6"}, 9, POLICY, rng, WALL) <= 7.0
    capped = RetryPolicy(max_rate_limit_wait_s=60, base_delay_s=0)
    assert delay_for(429, {"retry-after": "99999"}, 1, capped, rng, WALL) == pytest.approx(60.0)
    assert RetryPolicy().max_rate_limit_wait_s == 60  # the default cap per wait
    assert 0.5 <= delay_for(500, {"ratelimit-reset": "100"}, 1, POLICY, rng, WALL) <= 1.0
