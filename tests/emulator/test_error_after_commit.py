"""The "commit, then answer 500" fault: the write is stored and the client is told it failed."""

from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner

from metorial_apply.emulator import EmulatorSettings, FaultSettings
from metorial_apply.emulator.faults import Faults
from metorial_apply.emulator.serve import _settings, serve_command

from .conftest import admin, emulator_client

pytestmark = pytest.mark.anyio


async def objects(client: httpx.AsyncClient, stamp: str, status: str | None = None) -> list[dict[str, object]]:
    params = {"kind": "session_template", "metadata[stamp]": stamp} | ({"status": status} if status else {})
    return list((await admin(client, "GET", "/objects", params=params)).json()["items"])


async def test_a_committed_write_is_answered_500_and_stays() -> None:
    async with emulator_client(EmulatorSettings(faults=FaultSettings(error_after_commit_rate=1.0))) as client:
        assert (await client.get("/session-templates")).status_code == 200  # reads are never faulted so
        created = await client.post("/session-templates", json={"name": "t", "metadata": {"stamp": "s1"}})
        assert created.status_code == 500 and created.json()["code"] == "internal_server_error"
        [stored] = await objects(client, "s1")  # the create happened
        patched = await client.patch(f"/session-templates/{stored['id']}", json={"name": "renamed"})
        assert patched.status_code == 500
        assert (await objects(client, "s1"))[0]["name"] == "renamed"
        assert (await client.delete(f"/session-templates/{stored['id']}")).status_code == 500
        assert len(await objects(client, "s1", status="archived")) == 1
        assert (await client.post("/session-templates", json={})).status_code == 400  # failed writes: not faulted
        assert (await admin(client, "GET", "/stats")).json()["faults"]["error_after_commit"] == 3


async def test_error_after_commit_next_forces_the_next_committed_writes() -> None:
    async with emulator_client() as client:
        body = (await admin(client, "PUT", "/faults", json={"error_after_commit_next": 1})).json()
        assert body["error_after_commit_next"] == 1 and body["error_after_commit_rate"] == 0
        assert (await client.get("/providers")).status_code == 200  # a read does not use it up
        assert (await client.post("/session-templates", json={"name": "a", "metadata": {"stamp": "a"}})).status_code \
            == 500
        assert (await client.post("/session-templates", json={"name": "b", "metadata": {"stamp": "b"}})).status_code \
            == 200
        assert len(await objects(client, "a")) == len(await objects(client, "b")) == 1
        assert (await admin(client, "PUT", "/faults", json={"error_after_commit_rate": 2})).status_code == 400


def test_its_own_draws_leave_earlier_seeds_faulting_the_same_requests() -> None:
    plain, both = Faults(FaultSettings(error_rate=0.3, drop_rate=0.2, seed=5), 5), Faults(
        FaultSettings(error_rate=0.3, drop_rate=0.2, error_after_commit_rate=0.5, seed=5), 5)
    for _ in range(200):
        assert plain.draw() == both.draw()
        both.take_error_after_commit()
    assert 0 < both.fired["error_after_commit"] < 200


def test_serve_takes_the_rate_flag() -> None:
    options = dict.fromkeys(("db", "rate_limit", "secret_key", "publishable_key")) | {
        "latency_ms": 0.0, "jitter_ms": 0.0, "error_rate": 0.0, "drop_rate": 0.0, "error_after_commit_rate": 0.25,
        "burst_429_rate": 0.0, "burst_429_length": 3, "seed": None, "cascade_delay_ms": 0.0, "list_lag_ms": 0.0,
        "list_lag_jitter_ms": 0.0, "patch_resets_tool_filters": False,
        "clock_offset_s": 0.0}
    assert _settings(options).faults.error_after_commit_rate == 0.25
    usage = CliRunner().invoke(serve_command, ["--error-after-commit-rate", "1.5"])
    assert usage.exit_code == 2 and "--error-after-commit-rate" in usage.output


async def test_forced_faults_can_aim_at_one_collection() -> None:
    """`next_path`: the forced fault waits for a write of that collection; others pass untouched."""
    async with emulator_client() as client:
        body = (await admin(client, "PUT", "/faults", json={"error_after_commit_next": 1,
                                                            "next_path": "/provider-deployments"})).json()
        assert body["next_path"] == "/provider-deployments"
        assert (await client.post("/session-templates", json={"name": "t", "metadata": {"stamp": "s2"}})).status_code \
            in (200, 201)
        providers = (await client.get("/providers")).json()["items"]
        created = await client.post("/provider-deployments", json={"name": "d", "provider_id": providers[0]["id"]})
        assert created.status_code == 500
        assert (await admin(client, "GET", "/faults")).json()["error_after_commit_next"] == 0
        refused = await admin(client, "PUT", "/faults", json={"next_path": "deployments"})
        assert refused.status_code == 400
