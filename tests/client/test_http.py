"""The client over real HTTP against a uvicorn-served emulator on 127.0.0.1 (the `live_server` fixture)."""

from __future__ import annotations

import pytest

from metorial_apply.api.client import open_client
from metorial_apply.api.retry import RetryPolicy
from metorial_apply.core import errors
from metorial_apply.core.kinds import KINDS
from metorial_apply.emulator import DEFAULT_SECRET_KEY
from tests.emulator_server import EmulatorThread

PATH = KINDS["session_template"].path
STAMP = {"metorial-apply/stack": "http", "metorial-apply/address": "session_template.t",
         "metorial-apply/spec-hash": "sha256:2"}


@pytest.mark.anyio
async def test_lifecycle_and_dropped_create_over_http(live_server: EmulatorThread) -> None:
    url, emulator = live_server.url, live_server.emulator
    retry = RetryPolicy(max_attempts=3, base_delay_s=0.001, max_delay_s=0.002)
    async with open_client(url, DEFAULT_SECRET_KEY, retry=retry) as client:
        assert [p["slug"] for p in await client.list_all("/providers")]
        emulator.faults.configure({"drop_next": 1})
        with pytest.raises(errors.OutcomeUnknownError) as caught:
            await client.create(PATH, {"name": "t", "metadata": STAMP}, kind="session_template", name="t", stamp=STAMP)
        assert caught.value.code == "connection_lost" and caught.value.stamp == STAMP
        ours = [t for t in await client.list_all(PATH) if t["metadata"] == STAMP]
        assert len(ours) == 1  # the write was committed once and not re-sent
        assert client.stats.by_method["POST"] == 1
