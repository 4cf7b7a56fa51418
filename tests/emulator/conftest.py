"""Fixtures: an in-process emulator client (httpx + ASGI) and a live uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Iterator

import httpx
import pytest

from metorial_apply.emulator import (
    DEFAULT_PUBLISHABLE_KEY, DEFAULT_SECRET_KEY, EmulatorSettings, asgi_transport, create_app,
)
from metorial_apply.emulator.serve import build_server

SK = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}
PK = {"Authorization": f"Bearer {DEFAULT_PUBLISHABLE_KEY}"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def emulator_client(settings: EmulatorSettings | None = None, headers: dict[str, str] | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """A client into a fresh in-process emulator; `client.app` is the Starlette app."""
    app = create_app(settings or EmulatorSettings())
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url="http://emulator", headers=SK if headers is None else headers, timeout=10) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
    app.state.emulator.close()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with emulator_client() as c:
        yield c


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, settings: EmulatorSettings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = build_server(settings, "127.0.0.1", self.port)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("emulator did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    @property
    def app(self) -> Any:
        return self.server.config.app


@pytest.fixture(scope="module")
def live_server() -> Iterator[LiveServer]:
    with LiveServer(EmulatorSettings(seed=7)) as server:
        yield server


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
