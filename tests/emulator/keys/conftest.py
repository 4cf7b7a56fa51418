"""In-process key emulators (httpx + ASGI) with a clock the test moves, and credential headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from metorial_apply.emulator import asgi_transport
from metorial_apply.emulator.keys import (
    KeyEmulator,
    KeySettings,
    bootstrap_credentials,
    create_key_app,
    key_emulator_of,
)

METLO_ADMIN = bootstrap_credentials("metlo")["api_key"]
METAL_ADMIN = bootstrap_credentials("metal")


class FakeClock:
    """Wall-clock seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class KeyClient:
    http: httpx.AsyncClient
    emulator: KeyEmulator
    clock: FakeClock

    async def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """An admin route as a loopback client, without credential headers."""
        return await self.http.request(method, "/_emulator" + path, **kwargs)

    async def authenticates(self, api_key: str, client_id: str | None = None) -> bool:
        body = {"api_key": api_key} | ({"client_id": client_id} if client_id else {})
        response = await self.admin("POST", "/authenticate", json=body)
        assert response.status_code == 200, response.text
        return bool(response.json()["ok"])


@asynccontextmanager
async def key_client(api: str, **settings: Any) -> AsyncIterator[KeyClient]:
    app = create_key_app(KeySettings(api=api, **settings))
    emulator = key_emulator_of(app)
    clock = FakeClock()
    emulator.clock = clock
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url="http://emulator", timeout=10) as http:
        yield KeyClient(http, emulator, clock)
    emulator.close()


def metlo_auth(key: str = METLO_ADMIN) -> dict[str, str]:
    return {"Authorization": key}


def metal_auth(client_id: str = METAL_ADMIN["client_id"], key: str = METAL_ADMIN["api_key"]) -> dict[str, str]:
    return {"x-metal-client-id": client_id, "x-metal-api-key": key}
