"""Fixtures: an in-process emulator client (httpx + ASGI). The real-HTTP ones are in tests/conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from metorial_apply.emulator import (
    DEFAULT_PUBLISHABLE_KEY,
    DEFAULT_SECRET_KEY,
    EmulatorSettings,
    asgi_transport,
    create_app,
)

SK = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
PK = {"Authorization": f"Bearer {DEFAULT_PUBLISHABLE_KEY}"}


@asynccontextmanager
async def emulator_client(
    settings: EmulatorSettings | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client into a fresh in-process emulator; `client.app` is the Starlette app."""
    app = create_app(settings or EmulatorSettings())
    async with httpx.AsyncClient(
        transport=asgi_transport(app),
        base_url="http://emulator",
        headers=SK if headers is None else headers,
        timeout=10,
    ) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
    app.state.emulator.close()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with emulator_client() as c:
        yield c


async def create(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def provider_id(client: httpx.AsyncClient, slug: str) -> str:
    response = await client.get("/providers", params={"limit": 100})
    return next(p["id"] for p in response.json()["items"] if p["slug"] == slug)


async def admin(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Call an admin route as a loopback client without an API key."""
    request = client.build_request(method, "/_emulator" + path, **kwargs)
    request.headers.pop("authorization", None)
    return await client.send(request)


AUTH_INPUTS = {"github": ("token", {"token": "t"}), "linear": ("api_key", {"api_key": "k"}),
               "slack": ("bot_token", {"bot_token": "b"})}


async def auth_config(client: httpx.AsyncClient, provider: str, deployment_id: str | None = None) -> str:
    """An auth config's id: template providers of providers with auth methods need one."""
    method, value = AUTH_INPUTS[provider]
    body: dict[str, Any] = {"provider_auth_method_id": method, "value": value}
    if deployment_id:
        body["provider_deployment_id"] = deployment_id
    return str((await create(client, "/provider-auth-configs", body))["id"])
