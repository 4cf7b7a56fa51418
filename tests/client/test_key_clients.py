"""The Metlo and Metal key clients against their emulators in-process: list, create, delete,
the services' own error messages, lost create answers, retries, paging and `url: local`."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import respx

from metorial_apply.api import keys as key_api
from metorial_apply.api.keys import KeyBackendClient, open_key_client
from metorial_apply.api.retry import RetryPolicy
from metorial_apply.core.errors import (
    ApiError,
    ApiKeyError,
    BadRequestError,
    InsecureTransportError,
    OutcomeUnknownError,
    UnauthorizedError,
    UsageError,
)
from metorial_apply.core.keys import KeyBackend
from metorial_apply.core.model import SecretValue
from metorial_apply.emulator import asgi_transport
from metorial_apply.emulator.keys import KeySettings, bootstrap_credentials, create_key_app, key_emulator_of
from metorial_apply.emulator.keys.runtime import KeyEmulator
from metorial_apply.emulator.keys.service import Credentials

pytestmark = pytest.mark.anyio
FAST = RetryPolicy(base_delay_s=0.0, max_delay_s=0.0)


def backend(kind: str, url: str = "http://127.0.0.1:9", **creds: str) -> KeyBackend:
    given = creds or bootstrap_credentials(kind)
    return KeyBackend(name=f"{kind}-main", type=kind, url=url, url_from="env:URL",
                      api_key=SecretValue(given["api_key"]) if "api_key" in given else None,
                      client_id=SecretValue(given["client_id"]) if "client_id" in given else None)


class Pair:
    def __init__(self, kind: str, **creds: str) -> None:
        self.app = create_key_app(KeySettings(api=kind))
        self.emulator: KeyEmulator = key_emulator_of(self.app)
        self.client: KeyBackendClient = open_key_client(backend(kind, **creds), transport=asgi_transport(self.app),
                                                        retry=FAST)


@pytest.fixture(params=["metlo", "metal"])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    made = Pair(request.param)
    async with made.client:
        yield made
    made.emulator.close()


async def test_create_list_and_delete_a_key_whose_secret_authenticates(pair: Pair) -> None:
    key_for = "ONBOARDING" if pair.client.backend.type == "metlo" else None
    created = await pair.client.create_key("prod~ingest~1", key_for)
    secret = created.secret.reveal()
    assert secret not in repr(created) and secret not in str(created) and secret not in repr(pair.client)
    client_id = created.key.identity if pair.client.backend.type == "metal" else None
    assert pair.emulator.authenticate(Credentials(secret, client_id)) is not None
    listed = await pair.client.list_keys()
    assert [k.name for k in listed][-1] == "prod~ingest~1" and listed[-1] == created.key
    assert await pair.client.delete_key(created.key) is True
    assert pair.emulator.authenticate(Credentials(secret, client_id)) is None
    assert await pair.client.delete_key(created.key) is False  # already gone
    assert [k.name for k in await pair.client.list_keys()] == [pair.emulator.key_views()[0]["name"]]


@pytest.mark.parametrize(("kind", "creds", "message"), [
    ("metlo", {"api_key": "metlo_wrong"}, "Client unauthorized"),
    ("metal", {"api_key": "pk_wrong", "client_id": "ci_local_emulator_admin"}, "invalid api key or clientId"),
])
async def test_a_401_carries_the_service_message_and_no_credential(kind: str, creds: dict[str, str],
                                                                   message: str) -> None:
    made = Pair(kind, **creds)
    async with made.client:
        with pytest.raises(UnauthorizedError) as caught:
            await made.client.list_keys()
        with pytest.raises(UnauthorizedError):
            await made.client.create_key("prod~x~1")
    assert caught.value.api_message == f"key backend {kind}-main ({kind.capitalize()}): {message}"
    assert caught.value.hint == f"check the credentials of key_backends.{kind}-main"
    assert creds["api_key"] not in str(caught.value)
    assert [k["name"] for k in made.emulator.key_views()] == [made.emulator.key_views()[0]["name"]]  # nothing made


async def test_metlo_duplicate_and_limit_give_the_documented_messages() -> None:
    made = Pair("metlo")
    async with made.client:
        await made.client.create_key("dup")
        with pytest.raises(BadRequestError, match="Can not create key with name dup"):
            await made.client.create_key("dup")
        for i in range(48):
            await made.client.create_key(f"k{i}")
        with pytest.raises(BadRequestError,
                           match=r"Maximum API Key Limit Reached: 50\. Consider deleting any that are not in use\."):
            await made.client.create_key("one-too-many")


async def test_a_dropped_create_answer_is_an_unknown_outcome_and_the_key_exists(pair: Pair) -> None:
    pair.emulator.faults.configure({"drop_next": 1})
    with pytest.raises(OutcomeUnknownError) as caught:
        await pair.client.create_key("prod~ingest~1")
    assert caught.value.stamp == {"key-name": "prod~ingest~1"}
    assert "prod~ingest~1" in [k.name for k in await pair.client.list_keys()]
    assert pair.emulator.stats()["calls"].get(f"POST {pair.client.dialect.create_path}") == 1  # never re-sent


async def test_a_failing_list_is_retried_and_a_failing_create_is_not(pair: Pair) -> None:
    pair.emulator.faults.configure({"error_next": 1})
    assert len(await pair.client.list_keys()) == 1
    pair.emulator.faults.configure({"error_next": 1})
    with pytest.raises(OutcomeUnknownError):
        await pair.client.create_key("prod~ingest~1")
    assert pair.client.stats.retries == 1


async def test_metal_lists_every_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(key_api, "METAL_PAGE", 7)
    made = Pair("metal")
    async with made.client:
        for i in range(20):
            await made.client.create_key(f"k{i:02}")
        names = [k.name for k in await made.client.list_keys()]
    assert names == ["Emulator admin"] + [f"k{i:02}" for i in range(20)]


async def test_url_local_runs_the_emulator_beside_the_metorial_one(tmp_path: Path) -> None:
    state = tmp_path / ".metorial-apply"
    local = KeyBackend(name="m", type="metal", url="local", url_from="local")
    async with open_key_client(local, state_dir=state) as client:
        created = await client.create_key("prod~sync~1")
    assert stat.S_IMODE((state / "metal-emulator.sqlite3").stat().st_mode) == 0o600
    assert created.secret.reveal().encode() not in (state / "metal-emulator.sqlite3").read_bytes()
    async with open_key_client(local, state_dir=state) as again:
        assert "prod~sync~1" in [k.name for k in await again.list_keys()]


def test_bad_urls_and_credentials_fail_before_anything_is_sent() -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.route()
        with pytest.raises(InsecureTransportError):
            open_key_client(backend("metlo", url="http://keys.example.com"))
        with pytest.raises(UsageError, match=r"key_backends.metlo-main.url must be an http\(s\) URL"):
            open_key_client(backend("metlo", url="ftp://x"))
        with pytest.raises(ApiKeyError, match=r"key_backends\.metal-main: no client_id"):
            open_key_client(backend("metal", api_key="pk_x"))
        with pytest.raises(ApiKeyError, match="whitespace"):
            open_key_client(backend("metlo", api_key="metlo_a b"))
    assert route.call_count == 0


async def test_metlo_sends_the_raw_key_and_metal_both_headers() -> None:
    seen: list[httpx.Request] = []
    with respx.mock() as router:
        router.get("https://metlo.test/api/v1/keys/list").mock(side_effect=lambda r: seen.append(r) or
                                                               httpx.Response(200, json=[]))
        router.get("https://metal.test/v1/keys").mock(side_effect=lambda r: seen.append(r) or
                                                      httpx.Response(200, json={"data": []}))
        async with open_key_client(backend("metlo", url="https://metlo.test"), retry=FAST) as metlo:
            assert await metlo.list_keys() == []
        async with open_key_client(backend("metal", url="https://metal.test"), retry=FAST) as metal:
            assert await metal.list_keys() == []
    assert seen[0].headers["authorization"] == "metlo_local_emulator_admin_key"
    assert (seen[1].headers["x-metal-client-id"], seen[1].headers["x-metal-api-key"]) == (
        "ci_local_emulator_admin", "pk_local_emulator_admin_key")
    assert "authorization" not in seen[1].headers


async def test_a_metal_page_longer_than_asked_for_is_refused() -> None:
    """A backend that ignores `limit` cannot make a run page through (and hold) its every key: the
    pages stop at METAL_MAX_PAGES of METAL_PAGE keys (issue 21 item 2, a hostile Metal)."""
    keys = [{"id": f"65f0c0de{i:016x}", "name": f"other~k{i}~1", "keyLastFour": "a1b2", "clientId": f"cli_{i}",
             "createdAt": "2026-01-05T10:21:07.512Z"} for i in range(key_api.METAL_PAGE + 1)]
    with respx.mock(base_url="http://127.0.0.1:9") as mock:
        route = mock.get("/v1/keys").mock(return_value=httpx.Response(200, json={"data": keys}))
        async with open_key_client(backend("metal"), retry=FAST) as client:
            with pytest.raises(ApiError) as caught:
                await client.list_keys()
    assert str(caught.value) == ("invalid_response: a page of 101 keys, for a page of at most 100 "
                                 "(GET /v1/keys)")
    assert route.call_count == 1
