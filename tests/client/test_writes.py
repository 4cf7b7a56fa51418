"""Writes: a create is never blindly re-sent; updates and deletes retry; publishable keys never write."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from metorial_apply.api.client import PUBLISHABLE_MESSAGE
from metorial_apply.core import errors
from tests.client.conftest import PUBLISHABLE_KEY, error

pytestmark = pytest.mark.anyio

PATH = "/provider-deployments"
STAMP = {"metorial-apply/stack": "prod", "metorial-apply/address": "deployment.github",
         "metorial-apply/spec-hash": "sha256:abc"}
CREATED = {"object": "provider.deployment", "id": "pde_new", "name": "github"}


async def create(client: Any) -> dict[str, Any]:
    body = {"provider_id": "github", "name": "github", "metadata": dict(STAMP)}
    return await client.create(PATH, body, kind="deployment", name="github", stamp=STAMP)


@pytest.mark.parametrize("failure", [
    httpx.ReadTimeout("t"), httpx.WriteTimeout("t"), httpx.RemoteProtocolError("dropped"), httpx.ReadError("reset"),
    error(500, "internal_server_error", "boom"), error(503, "unavailable", "later"), error(504, "timeout", "slow"),
])
async def test_create_with_lost_outcome_is_not_resent(api: respx.MockRouter, make_client: Any,
                                                      failure: Any) -> None:
    route = api.post(PATH)
    if isinstance(failure, httpx.Response):
        route.mock(return_value=failure)
    else:
        route.mock(side_effect=failure)
    async with make_client() as client:
        with pytest.raises(errors.OutcomeUnknownError) as caught:
            await create(client)
    assert route.call_count == 1
    exc = caught.value
    assert exc.stamp == STAMP
    assert (exc.call.method, exc.call.path, exc.call.kind, exc.call.name) == ("POST", PATH, "deployment", "github")
    assert exc.address == "deployment.github"
    assert "may have happened" in str(exc)


async def test_create_with_unreadable_success_is_outcome_unknown(api: respx.MockRouter, make_client: Any) -> None:
    route = api.post(PATH).mock(return_value=httpx.Response(200, text="{truncated"))
    async with make_client() as client:
        with pytest.raises(errors.OutcomeUnknownError):
            await create(client)
    assert route.call_count == 1


async def test_create_is_retried_after_429(api: respx.MockRouter, make_client: Any, fake_time: Any) -> None:
    limited = error(429, "rate_limit_exceeded", "You have exceeded the rate limit for this instance")
    limited.headers["RateLimit-Reset"] = "4"
    route = api.post(PATH).mock(side_effect=[limited, httpx.Response(200, json=CREATED)])
    async with make_client() as client:
        assert await create(client) == CREATED
        assert client.stats.rate_limited == 1
    assert route.call_count == 2
    assert 4.0 < fake_time.slept[0] <= 4.0 + 0.5  # the announced reset, plus a first backoff's jitter


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("t"), httpx.PoolTimeout("t")])
async def test_create_is_retried_when_never_sent(api: respx.MockRouter, make_client: Any, failure: Any) -> None:
    route = api.post(PATH).mock(side_effect=[failure, httpx.Response(200, json=CREATED)])
    async with make_client() as client:
        assert await create(client) == CREATED
    assert route.call_count == 2


async def test_create_sends_the_whole_body_once(api: respx.MockRouter, make_client: Any) -> None:
    route = api.post(PATH).mock(return_value=httpx.Response(200, json=CREATED))
    async with make_client() as client:
        await create(client)
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"provider_id": "github", "name": "github", "metadata": STAMP}


@pytest.mark.parametrize("method", ["update", "delete"])
async def test_update_and_delete_retry_5xx_and_timeouts(api: respx.MockRouter, make_client: Any, method: str) -> None:
    ok = httpx.Response(200, json={"id": "pde_1"})
    route = api.route(path=f"{PATH}/pde_1").mock(side_effect=[httpx.ReadTimeout("t"), error(502, "bad", "gw"), ok])
    async with make_client() as client:
        call = getattr(client, method)
        args = (PATH, "pde_1", {"name": "x", "metadata": {}}) if method == "update" else (PATH, "pde_1")
        assert await call(*args, kind="deployment", name="a") == {"id": "pde_1"}
        assert client.stats.retries == 2
    assert route.call_count == 3
    assert route.calls.last.request.method == ("PATCH" if method == "update" else "DELETE")


async def test_publishable_key_never_writes(api: respx.MockRouter, make_client: Any) -> None:
    route = api.route().mock(return_value=httpx.Response(200, json={}))
    async with make_client(PUBLISHABLE_KEY) as client:
        for attempt in (
            create(client),
            client.update(PATH, "pde_1", {"metadata": {}}, kind="deployment", name="a"),
            client.delete(PATH, "pde_1", kind="deployment", name="a"),
        ):
            with pytest.raises(errors.ApiKeyError) as caught:
                await attempt
            assert str(caught.value) == PUBLISHABLE_MESSAGE
        with pytest.raises(errors.ApiKeyError):
            client.require_secret_key()
    assert route.call_count == 0


async def test_publishable_key_may_read_the_catalog(api: respx.MockRouter, make_client: Any) -> None:
    api.get("/providers").mock(return_value=httpx.Response(200, json={"object": "list", "items": [],
                                                                      "pagination": {"has_more_after": False}}))
    async with make_client(PUBLISHABLE_KEY) as client:
        assert await client.list_all("/providers") == []


async def test_secret_key_passes_require_secret_key(make_client: Any) -> None:
    async with make_client() as client:
        client.require_secret_key()
