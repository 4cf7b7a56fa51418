"""Rate limits, faults (latency, 500, 429 bursts, dropped responses), seeds, counters."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from metorial_apply.emulator import EmulatorSettings, FaultSettings
from metorial_apply.emulator.errors import RATE_LIMIT_BODY

from .conftest import admin, create, emulator_client

pytestmark = pytest.mark.anyio


async def test_rate_limit_429_exact_body_and_headers() -> None:
    settings = EmulatorSettings(rate_limit_count=3, rate_limit_window_seconds=60)
    async with emulator_client(settings) as client:
        remaining = [(await client.get("/providers")).headers["RateLimit-Remaining"] for _ in range(3)]
        assert remaining == ["2", "1", "0"]
        limited = await client.get("/providers")
        assert limited.status_code == 429 and limited.json() == RATE_LIMIT_BODY
        assert limited.json() == {
            "object": "error",
            "ok": False,
            "status": 429,
            "code": "rate_limit_exceeded",
            "message": "You have exceeded the rate limit for this instance",
            "hint": "Please wait a few minutes before trying again",
        }
        assert "Retry-After" not in limited.headers
        assert limited.headers["RateLimit-Limit"] == "3" and limited.headers["RateLimit-Remaining"] == "0"
        assert 1 <= int(limited.headers["RateLimit-Reset"]) - time.time() <= 61  # an epoch timestamp
        stats = (await admin(client, "GET", "/stats")).json()
        assert stats["rate_limited"] == 1 and stats["rate_limit"]["used"] == 3
        # unauthenticated requests are not counted and carry no rate-limit headers
        bare = await client.get("/providers", headers={"Authorization": "Bearer metorial_sk_wrong"})
        assert bare.status_code == 401 and "RateLimit-Limit" not in bare.headers


async def test_sliding_window_frees_slots() -> None:
    async with emulator_client(EmulatorSettings(rate_limit_count=2, rate_limit_window_seconds=0.3)) as client:
        assert (await client.get("/providers")).status_code == 200
        assert (await client.get("/providers")).status_code == 200
        assert (await client.get("/providers")).status_code == 429
        await asyncio.sleep(0.35)
        assert (await client.get("/providers")).status_code == 200


async def test_rate_limit_shared_by_all_keys_and_reconfigurable(client: httpx.AsyncClient) -> None:
    info = (await admin(client, "PUT", "/rate-limit", json={"count": 2, "window_seconds": 60, "clear": True})).json()
    assert info["limit"] == 2 and info["window_seconds"] == 60
    await client.get("/providers")
    await client.get("/providers", headers={"Authorization": "Bearer metorial_pk_local_emulator_publishable_key"})
    assert (await client.get("/providers")).status_code == 429
    preset = (await admin(client, "PUT", "/rate-limit", json={"preset": "dev"})).json()
    assert preset["limit"] == 100 and preset["window_seconds"] == 600
    assert (await admin(client, "PUT", "/rate-limit", json={"preset": "nope"})).status_code == 400


async def test_latency_is_applied_concurrently() -> None:
    async with emulator_client(EmulatorSettings(faults=FaultSettings(latency_ms=150))) as client:
        started = time.monotonic()
        responses = await asyncio.gather(*(client.get("/providers") for _ in range(10)))
        elapsed = time.monotonic() - started
        assert all(r.status_code == 200 for r in responses)
        assert 0.15 <= elapsed < 1.0  # ten in flight at once, not 1.5 s in a row
        assert (await admin(client, "GET", "/stats")).json()["faults"]["latency"] == 10


async def test_error_fault_returns_500_and_commits_nothing() -> None:
    async with emulator_client(EmulatorSettings(faults=FaultSettings(error_rate=1.0))) as client:
        response = await client.post("/session-templates", json={"name": "never"})
        assert response.status_code == 500 and response.json()["code"] == "internal_server_error"
        assert response.json()["object"] == "error" and "RateLimit-Limit" in response.headers
        await admin(client, "PUT", "/faults", json={"error_rate": 0})
        assert (await client.get("/session-templates")).json()["items"] == []
        assert (await admin(client, "GET", "/stats")).json()["faults"]["error"] == 1


async def test_burst_429() -> None:
    faults = FaultSettings(burst_429_rate=1.0, burst_429_length=3)
    async with emulator_client(EmulatorSettings(faults=faults)) as client:
        response = await client.get("/providers")
        assert (
            response.status_code == 429 and response.json() == RATE_LIMIT_BODY and "Retry-After" not in response.headers
        )
    async with emulator_client() as client:
        await admin(client, "PUT", "/faults", json={"burst_429_next": 2})
        codes = [(await client.get("/providers")).status_code for _ in range(4)]
        assert codes == [429, 429, 200, 200]
        stats = (await admin(client, "GET", "/stats")).json()
        assert stats["faults"]["burst_429"] == 2 and stats["rate_limited"] == 2
        assert stats["rate_limit"]["used"] == 2  # burst 429s do not consume the window


async def test_burst_length_from_rate() -> None:
    async with emulator_client(
        EmulatorSettings(faults=FaultSettings(burst_429_rate=0.2, burst_429_length=4, seed=3))
    ) as client:
        codes = [(await client.get("/providers")).status_code for _ in range(60)]
    runs, run = [], 0
    for code in codes + [200]:
        if code == 429:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    assert runs and all(r % 4 == 0 for r in runs)


async def test_dropped_write_is_committed_but_client_sees_transport_error() -> None:
    async with emulator_client(EmulatorSettings(faults=FaultSettings(drop_rate=1.0))) as client:
        assert (await client.get("/session-templates")).status_code == 200  # reads are never dropped
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/session-templates", json={"name": "dropped", "metadata": {"stamp": "s1"}})
        objects = (
            await admin(client, "GET", "/objects", params={"kind": "session_template", "metadata[stamp]": "s1"})
        ).json()
        assert objects["count"] == 1 and objects["items"][0]["name"] == "dropped"
        with pytest.raises(httpx.TransportError):
            await client.delete(f"/session-templates/{objects['items'][0]['id']}")
        assert (
            await admin(client, "GET", "/objects", params={"kind": "session-templates", "status": "archived"})
        ).json()["count"] == 1
        failed = await client.post("/session-templates", json={})
        assert failed.status_code == 400  # failed writes are answered, not dropped
        stats = (await admin(client, "GET", "/stats")).json()
        assert stats["faults"]["drop"] == 2


async def test_drop_next_forces_one_drop(client: httpx.AsyncClient) -> None:
    await admin(client, "PUT", "/faults", json={"drop_next": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/session-templates", json={"name": "a"})
    assert (await client.post("/session-templates", json={"name": "b"})).status_code == 200


async def sequence(seed: int) -> list[int]:
    faults = FaultSettings(error_rate=0.3, burst_429_rate=0.1, burst_429_length=2, seed=seed)
    async with emulator_client(EmulatorSettings(faults=faults)) as client:
        return [(await client.get("/providers")).status_code for _ in range(40)]


async def test_faults_are_reproducible_from_a_seed() -> None:
    first, second, other = await sequence(11), await sequence(11), await sequence(12)
    assert first == second and first != other
    assert {500, 200} <= set(first)


async def test_fault_settings_switch_at_runtime(client: httpx.AsyncClient) -> None:
    body = (await admin(client, "PUT", "/faults", json={"latency_ms": 5, "error_rate": 0.5, "seed": 1})).json()
    assert body["latency_ms"] == 5 and body["error_rate"] == 0.5 and body["seed"] == 1
    assert (await admin(client, "PUT", "/faults", json={"error_rate": 2})).status_code == 400
    assert (await admin(client, "PUT", "/faults", json={"bogus": 1})).status_code == 400
    assert (await admin(client, "GET", "/faults")).json()["error_rate"] == 0.5


async def test_counters_and_reset(client: httpx.AsyncClient) -> None:
    await create(client, "/session-templates", {"name": "a", "metadata": {"stack": "x"}})
    await client.get("/session-templates")
    await client.get("/session-templates/set_missing")
    stats = (await admin(client, "GET", "/stats")).json()
    assert stats["calls"] == {
        "GET /session-templates": 1,
        "GET /session-templates/{id}": 1,
        "POST /session-templates": 1,
    }
    assert stats["total_calls"] == 3 and stats["statuses"] == {"200": 2, "404": 1}
    assert stats["objects"]["session_template"] == {"active": 1, "archived": 0}
    assert set(stats) >= {"total_calls", "calls", "statuses", "rate_limited", "faults", "rate_limit", "objects"}
    await admin(client, "POST", "/reset", json={"stats_only": True})
    stats = (await admin(client, "GET", "/stats")).json()
    assert stats["total_calls"] == 0 and stats["objects"]["session_template"]["active"] == 1
    await admin(client, "POST", "/reset")
    assert (await client.get("/session-templates")).json()["items"] == []
    deployments = (await client.get("/provider-deployments")).json()["items"]
    assert deployments and all(d["is_default"] for d in deployments)  # defaults reseeded
    assert (await client.get("/providers")).json()["items"]  # catalog kept


async def test_admin_routes_are_not_api_routes(client: httpx.AsyncClient) -> None:
    with_key = await client.get("/_emulator/stats")
    assert with_key.status_code == 404 and with_key.json()["code"] == "not_found"
    assert "RateLimit-Limit" not in with_key.headers
    await admin(client, "GET", "/stats")
    stats = (await admin(client, "GET", "/stats")).json()
    assert stats["total_calls"] == 0 and stats["rate_limit"]["used"] == 0
    app = client.app  # type: ignore[attr-defined]
    remote = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 5000)), base_url="http://emulator")
    async with remote:
        denied = await remote.get("/_emulator/stats")
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"


async def test_admin_faults_bypass(client: httpx.AsyncClient) -> None:
    await admin(client, "PUT", "/faults", json={"error_rate": 1.0})
    assert (await admin(client, "GET", "/stats")).status_code == 200
    assert (await client.get("/providers")).status_code == 500


async def test_in_process_handle(client: httpx.AsyncClient) -> None:
    from metorial_apply.emulator import emulator_of

    emulator = emulator_of(client.app)  # type: ignore[attr-defined]
    emulator.faults.configure({"burst_429_next": 1})
    assert (await client.get("/providers")).status_code == 429
    assert emulator.stats()["rate_limited"] == 1
    emulator.reset()
    assert emulator.stats()["total_calls"] == 0
