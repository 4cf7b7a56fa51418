"""The HTTP connection pool keeps one connection alive per concurrent request."""

from __future__ import annotations

import asyncio

import pytest

from metorial_apply.api.client import open_client
from metorial_apply.emulator import DEFAULT_SECRET_KEY
from tests.emulator_server import EmulatorThread


@pytest.mark.anyio
async def test_every_concurrent_request_keeps_its_connection_beyond_httpx_default_of_20(
        live_server: EmulatorThread) -> None:
    live_server.emulator.faults.configure({"latency_ms": 100})  # so all 24 overlap
    try:
        async with open_client(live_server.url, DEFAULT_SECRET_KEY, max_concurrency=24) as client:
            await asyncio.gather(*(client.read("/providers", {"limit": 1}) for _ in range(24)))
            pool = client._http._transport._pool  # type: ignore[attr-defined]
            assert len(pool.connections) == 24
            assert all(c.is_idle() for c in pool.connections)
    finally:
        live_server.emulator.faults.configure({"latency_ms": 0})
