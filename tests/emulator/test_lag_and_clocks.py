"""Two emulator settings for the stack lock's tests: lists that lag behind writes (`list_lag_ms`
and `list_lag_jitter_ms`, faults) and a clock offset (`clock_offset_s`), for two servers that
disagree about the time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from click.testing import CliRunner

from metorial_apply.emulator import EmulatorSettings, FaultSettings
from metorial_apply.emulator.serve import serve_command
from metorial_apply.emulator.store import lag_share

from .conftest import admin, create, emulator_client

pytestmark = pytest.mark.anyio
LAG_MS = 2000.0


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def listed(client: httpx.AsyncClient) -> list[str]:
    return [o["id"] for o in (await client.get("/session-templates", params={"limit": 100})).json()["items"]]


async def test_a_list_lags_every_new_object_by_the_same_time() -> None:
    async with emulator_client(EmulatorSettings(faults=FaultSettings(list_lag_ms=600))) as client:
        first = (await create(client, "/session-templates", {"name": "a"}))["id"]
        await asyncio.sleep(0.3)
        second = (await create(client, "/session-templates", {"name": "b"}))["id"]
        assert await listed(client) == []
        assert (await client.get(f"/session-templates/{second}")).status_code == 200  # reads by id never lag
        await asyncio.sleep(0.4)
        assert await listed(client) == [first]  # in creation order: an object shows only after older ones
        await asyncio.sleep(0.3)
        assert await listed(client) == [first, second]


async def test_a_jittered_lag_can_miss_an_older_object_and_show_a_newer_one() -> None:
    settings = EmulatorSettings(seed=3, faults=FaultSettings(list_lag_jitter_ms=LAG_MS))
    async with emulator_client(settings) as client:
        made = [(await create(client, "/session-templates", {"name": f"t{i}"}))["id"] for i in range(20)]
        await asyncio.sleep(LAG_MS / 2000)  # half the lag: about half the objects show
        shown = await listed(client)
        hidden = [i for i, ident in enumerate(made) if ident not in shown]
        assert shown and hidden, (shown, hidden)
        assert any(made.index(ident) > hidden[0] for ident in shown)  # not a prefix: order is not kept
        for ident in made:  # reads by id never lag
            assert (await client.get(f"/session-templates/{ident}")).status_code == 200
        await asyncio.sleep(LAG_MS / 2000 + 0.2)
        assert await listed(client) == made


async def test_each_objects_lag_is_its_seeded_share_and_the_fault_switches_at_runtime() -> None:
    async with emulator_client(EmulatorSettings(seed=3)) as client:
        salt = client.app.state.emulator.faults.lag_salt  # type: ignore[attr-defined]
        ident = (await create(client, "/session-templates", {"name": "t"}))["id"]
        assert await listed(client) == [ident]  # no lag by default
        body = (await admin(client, "PUT", "/faults", json={"list_lag_jitter_ms": 60_000})).json()
        assert body["list_lag_jitter_ms"] == 60_000
        assert 0.01 < lag_share(salt, ident) < 1  # this seed hides it for more than 0.6 s
        assert await listed(client) == []
        assert (await admin(client, "PUT", "/faults", json={"list_lag_ms": -1})).status_code == 400
        await admin(client, "PUT", "/faults", json={"list_lag_jitter_ms": 0})
        assert await listed(client) == [ident]


async def test_the_clock_offset_moves_every_timestamp_written() -> None:
    async with emulator_client(EmulatorSettings(clock_offset_s=-30)) as client:
        before = datetime.now(UTC)
        made = await create(client, "/session-templates", {"name": "t"})
        behind = (before - stamp(made["created_at"])).total_seconds()
        assert 29 <= behind <= 31, behind
        updated = (await client.patch(f"/session-templates/{made['id']}", json={"name": "u"})).json()
        assert 29 <= (datetime.now(UTC) - stamp(updated["updated_at"])).total_seconds() <= 31


def test_serve_takes_both_settings_for_the_metorial_api_only() -> None:
    runner = CliRunner()
    assert runner.invoke(serve_command, ["--list-lag-ms", "-1"]).exit_code == 2
    assert runner.invoke(serve_command, ["--list-lag-jitter-ms", "-1"]).exit_code == 2
    usage = runner.invoke(serve_command, ["--api", "metlo", "--clock-offset-s", "5"])
    assert usage.exit_code == 2 and "--api metorial only" in usage.output


def test_served_date_and_rate_limit_reset_follow_the_offset_clock() -> None:
    """The emulator's Date is by its own clock, like RateLimit-Reset: the client measures the
    epoch against it, so a server 30 s behind still yields the right wait. One Date, not two."""
    from email.utils import parsedate_to_datetime

    from tests.emulator_server import SECRET_KEY, EmulatorThread

    settings = EmulatorSettings(clock_offset_s=-30, rate_limit_count=2, rate_limit_window_seconds=10)
    with EmulatorThread(settings) as server:
        answers = [httpx.get(f"{server.url}/providers", headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=10)
                   for _ in range(3)]
    refused = answers[-1]
    assert refused.status_code == 429 and len(refused.headers.get_list("date")) == 1
    served = parsedate_to_datetime(refused.headers["date"])
    assert 29 <= (datetime.now(UTC) - served).total_seconds() <= 32
    wait = int(refused.headers["ratelimit-reset"]) - served.timestamp()
    assert 0 < wait <= 11, wait
