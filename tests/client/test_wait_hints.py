"""A server's wait hint longer than the run's --max-wait has left stops the run at once, naming
the hint (issue 21 item 11), rather than waiting out the budget in slices."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from metorial_apply.api.waits import WaitBudgetExceededError
from tests.client.conftest import FakeTime

pytestmark = pytest.mark.anyio
DEPLOYMENTS = "/provider-deployments"


def page(reset: str) -> httpx.Response:
    return httpx.Response(200, json={"items": [], "pagination": {"has_more_after": False}},
                          headers={"ratelimit-limit": "5000", "ratelimit-remaining": "0", "ratelimit-reset": reset})


async def test_a_reset_hint_past_the_wait_budget_stops_at_once(api: respx.MockRouter, make_client: Any,
                                                               fake_time: FakeTime) -> None:
    api.get(DEPLOYMENTS).mock(return_value=page("800"))  # believed up to the window (600 s), never longer
    async with make_client(max_wait_s=5) as client:
        await client.list_all(DEPLOYMENTS)  # the answer says: the window is spent for 800 s
        with pytest.raises(WaitBudgetExceededError, match="stopped instead of waiting 600 s") as caught:
            await client.list_all(DEPLOYMENTS)
    assert sum(fake_time.slept) == 0, fake_time.slept  # not one slice waited
    assert "--max-wait" in str(caught.value)


# An epoch wait hint is the server's clock: measured against the response's Date header, never
# this machine's (issue 21 item 11). This machine is set a year off to show it.
DATE = "Fri, 15 Jan 2027 08:00:00 GMT"


@pytest.mark.parametrize("local_offset_s", [0.0, -3600.0 * 24 * 365, 3600.0 * 24 * 365])
def test_an_epoch_reset_is_measured_against_the_responses_date(local_offset_s: float) -> None:
    from email.utils import parsedate_to_datetime

    from metorial_apply.api.ratelimit import parse_observation, server_clock
    from metorial_apply.api.retry import server_wait

    server_now = parsedate_to_datetime(DATE).timestamp()
    headers = httpx.Headers({"date": DATE, "ratelimit-remaining": "0", "ratelimit-limit": "500",
                             "ratelimit-reset": str(int(server_now) + 7)})
    local = server_now + local_offset_s
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("time.time", lambda: local)
        assert server_clock(headers) == server_now
        assert server_wait(headers) == 7
        observed = parse_observation(headers)
        assert observed is not None and observed.reset_s == 7
        retry_at = httpx.Headers({"date": DATE, "retry-after": "Fri, 15 Jan 2027 08:00:09 GMT"})
        assert server_wait(retry_at) == 9


def test_a_date_within_its_own_resolution_leaves_the_finer_local_clock_in_charge() -> None:
    """Date has whole seconds: when it agrees with this machine to within that (and the answer's
    travel), the local clock measures the wait more finely; only a real disagreement switches."""
    from email.utils import parsedate_to_datetime

    from metorial_apply.api.ratelimit import DATE_SLACK_S, server_clock

    server_now = parsedate_to_datetime(DATE).timestamp()
    with pytest.MonkeyPatch.context() as patch:
        for skew in (0.7, -1.5, DATE_SLACK_S):
            patch.setattr("time.time", lambda skew=skew: server_now + skew)
            assert server_clock(httpx.Headers({"date": DATE})) == server_now + skew
        patch.setattr("time.time", lambda: server_now + DATE_SLACK_S + 1)
        assert server_clock(httpx.Headers({"date": DATE})) == server_now


def test_without_a_date_header_this_machines_clock_is_all_there_is() -> None:
    from metorial_apply.api.retry import server_wait

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("time.time", lambda: 1_800_000_000.0)
        assert server_wait(httpx.Headers({"ratelimit-remaining": "0", "ratelimit-reset": "1800000004"})) == 4
