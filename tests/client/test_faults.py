"""The client against the emulator's faults (in-process): dropped responses, 500s and 429 bursts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from metorial_apply.api.client import MetorialClient, open_client
from metorial_apply.api.retry import RetryPolicy
from metorial_apply.core import errors
from metorial_apply.core.kinds import KINDS
from metorial_apply.emulator import EmulatorSettings, asgi_transport, create_app, emulator_of

pytestmark = pytest.mark.anyio

PATH = KINDS["session_template"].path
STAMP = {"metorial-apply/stack": "faults", "metorial-apply/address": "session_template.t",
         "metorial-apply/spec-hash": "sha256:1"}


@pytest.fixture
async def setup() -> AsyncIterator[tuple[MetorialClient, Any]]:
    app = create_app(EmulatorSettings())
    async with open_client("local", None, transport=asgi_transport(app),
                           retry=RetryPolicy(max_attempts=4, base_delay_s=0.001, max_delay_s=0.002)) as client:
        yield client, emulator_of(app).faults


async def ours(client: MetorialClient) -> list[dict[str, Any]]:
    return [t for t in await client.list_all(PATH) if t["metadata"].get("metorial-apply/stack") == "faults"]


async def create(client: MetorialClient) -> dict[str, Any]:
    return await client.create(PATH, {"name": "t", "metadata": STAMP}, kind="session_template", name="t", stamp=STAMP)


async def test_dropped_create_is_unknown_and_happened_exactly_once(setup: Any) -> None:
    client, faults = setup
    faults.configure({"drop_next": 1})
    with pytest.raises(errors.OutcomeUnknownError) as caught:
        await create(client)
    assert caught.value.stamp == STAMP and caught.value.status is None
    assert len(await ours(client)) == 1  # committed once, found by its stamp, not re-sent


async def test_create_answered_500_is_unknown_and_not_resent(setup: Any) -> None:
    client, faults = setup
    faults.configure({"error_next": 1})
    with pytest.raises(errors.OutcomeUnknownError) as caught:
        await create(client)
    assert caught.value.status == 500
    assert await ours(client) == []  # the emulator fails before executing; we did not try again


async def test_create_in_a_429_burst_is_retried_and_created_once(setup: Any) -> None:
    client, faults = setup
    faults.configure({"burst_429_next": 2})
    created = await create(client)
    assert client.stats.rate_limited == 2 and client.stats.retries == 2
    assert [t["id"] for t in await ours(client)] == [created["id"]]


async def test_reads_retry_through_500s(setup: Any) -> None:
    client, faults = setup
    faults.configure({"error_next": 2})
    assert await client.list_all("/providers")
    assert client.stats.retries == 2


async def test_dropped_update_is_retried(setup: Any) -> None:
    client, faults = setup
    created = await create(client)
    faults.configure({"drop_next": 1})
    updated = await client.update(PATH, created["id"], {"description": "x", "metadata": STAMP},
                                  kind="session_template", name="t")
    assert updated["description"] == "x" and client.stats.retries == 1


async def test_dropped_delete_then_gone_means_done(setup: Any) -> None:
    client, faults = setup
    created = await create(client)
    faults.configure({"drop_next": 1})
    with pytest.raises(errors.GoneError):
        await client.delete(PATH, created["id"], kind="session_template", name="t")
    assert (await client.get(PATH, created["id"]))["status"] == "archived"
