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
