"""The run's wait budget: every sleep spends it, a long wait is announced every 10 s, and a wait
that would pass it stops the run at once with what it was waiting for."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import respx

from metorial_apply.api.ratelimit import RateLimitSettings
from metorial_apply.api.retry import RetryPolicy
from metorial_apply.api.waits import WaitBudget, WaitBudgetExceededError, WaitBudgetSpent, WaitNotice
from metorial_apply.core.errors import RateLimitedError
from tests.client.conftest import FakeTime, page

pytestmark = pytest.mark.anyio


def budget(fake_time: FakeTime, total_s: float = 900) -> tuple[WaitBudget, list[WaitNotice]]:
    notices: list[WaitNotice] = []
    return WaitBudget(total_s, clock=fake_time.clock, sleep=fake_time.sleep, on_notice=notices.append), notices


async def test_a_long_wait_speaks_at_its_start_and_every_10_s(fake_time: FakeTime) -> None:
    waits, notices = budget(fake_time)
    await waits.wait(60, "the moon")
    assert [(n.seconds_left, n.waited_s, n.first) for n in notices] == [
        (60, 0, True), (50, 10, False), (40, 20, False), (30, 30, False), (20, 40, False), (10, 50, False),
    ]
    assert {n.what for n in notices} == {"the moon"} and waits.spent() == 60
    assert max(fake_time.slept) == 10  # sliced, so the notices come on time


async def test_short_waits_speak_once_they_add_up_to_10_s(fake_time: FakeTime) -> None:
    waits, notices = budget(fake_time)
    for _ in range(45):
        await waits.wait(0.5, "a retry")
    assert [n.waited_s for n in notices] == [10, 20]  # not one line per 0.5 s backoff


async def test_a_wait_past_the_budget_stops_at_once(fake_time: FakeTime) -> None:
    waits, _ = budget(fake_time, total_s=100)
    await waits.wait(60, "first")
    with pytest.raises(WaitBudgetSpent) as caught:
        await waits.wait(41, "second")
    assert (caught.value.what, caught.value.seconds, caught.value.waited_s) == ("second", 41, 60)
    assert sum(fake_time.slept) == 60  # did not sleep towards a wait it could not finish
    await waits.wait(40, "third")  # exactly the rest is allowed


async def test_concurrent_waits_spend_wall_time_once() -> None:
    waits = WaitBudget(0.5)
    started = time.monotonic()
    await asyncio.gather(*(waits.wait(0.2, "together") for _ in range(8)))
    assert waits.spent() == pytest.approx(time.monotonic() - started, abs=0.05)
    assert waits.spent() < 0.4  # eight waiters, one stretch of waiting: the budget is not 8 × 0.2 s


async def test_the_limiters_waits_spend_the_budget_too(api: respx.MockRouter, make_client: Any,
                                                       fake_time: FakeTime) -> None:
    """A client-side limit of 1 request per 100 s: the second call would wait 100 s for a slot,
    which a 50 s budget refuses, naming the call and the request budget."""
    api.get("/provider-deployments").mock(return_value=page([], False))
    notices: list[WaitNotice] = []
    async with make_client(rate_limit=RateLimitSettings(count=1, window_s=100, learn=False), max_wait_s=50,
                           on_wait=notices.append) as client:
        await client.list_all("/provider-deployments")
        with pytest.raises(WaitBudgetExceededError) as caught:
            await client.list_all("/provider-deployments", params={"search": "do-not-print"})
    text = str(caught.value)
    assert text.startswith("wait_budget_spent: stopped instead of waiting 100 s more for a free slot in the API's "
                           "request budget")
    assert text.endswith("(GET /provider-deployments)") and "do-not-print" not in text
    assert fake_time.slept == []


async def test_retry_backoff_is_announced_through_on_wait(api: respx.MockRouter, make_client: Any,
                                                         fake_time: FakeTime) -> None:
    api.get("/provider-deployments").mock(side_effect=[
        httpx.Response(429, headers={"retry-after": "30"}), page([], False)])
    notices: list[WaitNotice] = []
    async with make_client(on_wait=notices.append) as client:
        await client.list_all("/provider-deployments")
    assert [round(n.seconds_left) for n in notices] == [30, 20, 10]
    assert notices[0].what == ("a rate-limited GET /provider-deployments to be accepted "
                               "(429; the server asked for 30 s, believed up to 60 s)")


async def test_429s_without_any_wait_are_bounded_in_count(api: respx.MockRouter, make_client: Any,
                                                           fake_time: FakeTime) -> None:
    """No backoff and a Reset of 0: the wait budget never runs down, the attempt count stops it."""
    route = api.get("/provider-deployments").mock(return_value=httpx.Response(
        429, headers={"ratelimit-remaining": "0", "ratelimit-reset": "0"}))
    async with make_client(retry=RetryPolicy(base_delay_s=0, max_rate_limited_attempts=7)) as client:
        with pytest.raises(RateLimitedError):
            await client.list_all("/provider-deployments")
    assert route.call_count == 7 and sum(fake_time.slept) == 0
