"""Issue 22 item 9, the client against the Metal emulator in-process: a create answer without the
secret field `key` stops with the field names (never a value), deletes the key it made (or names
it when that fails), and no later create of the run is sent."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from metorial_apply.api.keys import KeyBackendClient, open_key_client
from metorial_apply.api.retry import RetryPolicy
from metorial_apply.core.errors import ApiError
from metorial_apply.emulator import asgi_transport
from metorial_apply.emulator.keys import KeySettings, create_key_app, key_emulator_of
from metorial_apply.emulator.keys.runtime import KeyEmulator

from .test_key_clients import backend

pytestmark = pytest.mark.anyio
FAST = RetryPolicy(base_delay_s=0.0, max_delay_s=0.0, max_attempts=2)
SECRET = re.compile(r"pk_[A-Za-z0-9]{20,}")


class NoDeletes(httpx.AsyncBaseTransport):
    """The emulator, except that every DELETE answers 500 (a delete that cannot be made)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(500, headers={"content-type": "application/json"},
                                  stream=httpx.ByteStream(b'{"error": "Internal server error"}'))
        return await self.inner.handle_async_request(request)


async def metal(deletes: bool = True) -> AsyncIterator[tuple[KeyBackendClient, KeyEmulator]]:
    app = create_key_app(KeySettings(api="metal"))
    emulator = key_emulator_of(app)
    emulator.secret_field = "secret"  # what PUT /_emulator/faults {"secret_field": "secret"} sets
    transport = asgi_transport(app) if deletes else NoDeletes(asgi_transport(app))
    async with open_key_client(backend("metal"), transport=transport, retry=FAST) as client:
        yield client, emulator
    emulator.close()


def active(emulator: KeyEmulator) -> list[str]:
    return [k["name"] for k in emulator.key_views() if k["status"] == "active"]


async def test_a_secretless_create_names_the_fields_deletes_the_key_and_refuses_the_next() -> None:
    async for client, emulator in metal():
        with pytest.raises(ApiError) as caught:
            await client.create_key("prod~sync~1")
        error = caught.value
        assert error.code == "secret_field_missing"
        assert "no secret field `key`" in str(error)
        assert "it has clientId, createdAt, id, keyLastFour, name, secret (names only" in str(error)
        assert "was deleted" in str(error) and not SECRET.search(str(error) + (error.hint or ""))
        assert active(emulator) == ["Emulator admin"]  # the bootstrap key only
        calls = emulator.stats()["calls"]
        with pytest.raises(ApiError, match="secret_field_missing"):
            await client.create_key("prod~other~1")
        assert emulator.stats()["calls"] == calls  # refused without a request
        assert calls.get("POST /v1/keys") == 1 and calls.get("DELETE /v1/keys/{key}") == 1


async def test_when_the_delete_fails_the_error_names_the_key_to_delete_by_hand() -> None:
    async for client, emulator in metal(deletes=False):
        with pytest.raises(ApiError) as caught:
            await client.create_key("prod~sync~1")
        made = next(k for k in emulator.key_views() if k["name"] == "prod~sync~1")
        assert made["status"] == "active"
        by_hand = f"delete prod~sync~1 (id {made['id']}, identity {made['identity']}) in Metal by hand"
        assert by_hand in str(caught.value)
        assert not SECRET.search(str(caught.value))
