"""The client over real HTTP against a uvicorn-served emulator on 127.0.0.1 (started and stopped here)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Iterator

import pytest

from metorial_apply import errors
from metorial_apply.client import open_client
from metorial_apply.emulator import DEFAULT_SECRET_KEY, EmulatorSettings, emulator_of
from metorial_apply.emulator.serve import build_server
from metorial_apply.kinds import KINDS
from metorial_apply.retry import RetryPolicy

PATH = KINDS["session_template"].path
STAMP = {"metorial-apply/stack": "http", "metorial-apply/address": "session_template.t",
         "metorial-apply/spec-hash": "sha256:2"}


@pytest.fixture(scope="module")
def server_url() -> Iterator[tuple[str, object]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = build_server(EmulatorSettings(), "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "emulator did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", emulator_of(server.config.app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.anyio
async def test_lifecycle_and_dropped_create_over_http(server_url: tuple[str, object]) -> None:
    url, emulator = server_url
    retry = RetryPolicy(max_attempts=3, base_delay_s=0.001, max_delay_s=0.002)
    async with open_client(url, DEFAULT_SECRET_KEY, retry=retry) as client:
        assert [p["slug"] for p in await client.list_all("/providers")]
        emulator.faults.configure({"drop_next": 1})  # type: ignore[attr-defined]
        with pytest.raises(errors.OutcomeUnknownError) as caught:
            await client.create(PATH, {"name": "t", "metadata": STAMP}, kind="session_template", name="t", stamp=STAMP)
        assert caught.value.code == "connection_lost" and caught.value.stamp == STAMP
        ours = [t for t in await client.list_all(PATH) if t["metadata"] == STAMP]
        assert len(ours) == 1  # the write was committed once and not re-sent
        assert client.stats.by_method["POST"] == 1
