"""The Metal key emulator in-process: every documented endpoint, status, body and message."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from metorial_apply.emulator.keys.choices import METAL_KEY_LIMIT

from .conftest import METAL_ADMIN, KeyClient, key_client, metal_auth

pytestmark = pytest.mark.anyio

INVALID = {"error": "invalid api key or clientId"}
KEY_FIELDS = {"id", "name", "keyLastFour", "clientId", "createdAt"}


@pytest.fixture
async def metal() -> AsyncIterator[KeyClient]:
    async with key_client("metal") as client:
        yield client


async def create(metal: KeyClient, name: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return await metal.http.post("/v1/keys", json={"name": name}, headers=headers or metal_auth())


async def created(metal: KeyClient, name: str) -> dict[str, Any]:
    response = await create(metal, name)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def listed(metal: KeyClient, **params: Any) -> list[dict[str, Any]]:
    response = await metal.http.get("/v1/keys", params=params, headers=metal_auth())
    assert response.status_code == 200, response.text
    return response.json()["data"]


def own(key: dict[str, Any]) -> dict[str, str]:
    return metal_auth(key["clientId"], key["key"])


async def test_create_answers_201_with_the_one_time_secret(metal: KeyClient) -> None:
    key = await created(metal, "Production sync")
    assert set(key) == KEY_FIELDS | {"key"}
    assert re.fullmatch(r"[0-9a-f]{24}", key["id"]) and key["clientId"].startswith("ci_")
    assert key["keyLastFour"] == key["key"][-4:] and key["name"] == "Production sync"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", key["createdAt"])
    keys = await listed(metal)
    assert all(set(k) == KEY_FIELDS for k in keys)
    assert {k: v for k, v in key.items() if k != "key"} in keys
    assert key["key"] not in (await metal.http.get("/v1/keys", headers=metal_auth())).text


async def test_a_created_key_authenticates_against_the_api_itself(metal: KeyClient) -> None:
    key = await created(metal, "sync")
    current = await metal.http.get("/v1/keys/current", headers=own(key))
    assert current.json() == {"data": {k: v for k, v in key.items() if k != "key"}}
    assert (await metal.http.get("/v1/keys", headers=own(key))).status_code == 200
    assert (await create(metal, "made-by-the-new-key", own(key))).status_code == 201
    assert await metal.authenticates(key["key"], key["clientId"])


async def test_every_missing_or_wrong_credential_is_the_same_401(metal: KeyClient) -> None:
    key = await created(metal, "a")
    other = await created(metal, "b")
    for headers in (
        {},
        {"x-metal-api-key": key["key"]},  # no client id
        {"x-metal-client-id": key["clientId"]},  # no key
        metal_auth(key["clientId"], key["key"] + "x"),
        metal_auth(other["clientId"], key["key"]),  # a real key with another key's client id
        {"Authorization": f"Bearer {key['key']}"},
    ):
        response = await metal.http.get("/v1/keys", headers=headers)
        assert (response.status_code, response.json()) == (401, INVALID)
    assert not await metal.authenticates(key["key"], other["clientId"])
    assert not await metal.authenticates(key["key"])  # Metal needs the client id too


async def test_delete_revokes_at_once_without_a_window(metal: KeyClient) -> None:
    key = await created(metal, "gone")
    response = await metal.http.delete(f"/v1/keys/{key['id']}", headers=metal_auth())
    assert response.status_code == 200
    assert response.json() == {"data": {k: v for k, v in key.items() if k != "key"}}
    assert key["id"] not in [k["id"] for k in await listed(metal)]
    assert (await metal.http.get("/v1/keys", headers=own(key))).json() == INVALID
    again = await metal.http.delete(f"/v1/keys/{key['id']}", headers=metal_auth())
    assert (again.status_code, again.json()) == (404, {"error": "API key not found"})
    by_client_id = await metal.http.delete(f"/v1/keys/{METAL_ADMIN['client_id']}", headers=metal_auth())
    assert by_client_id.status_code == 404


async def test_a_revoked_key_works_until_the_cache_window_ends() -> None:
    async with key_client("metal", revoke_delay_ms=2000) as metal:
        key = await created(metal, "cached")
        assert (await metal.http.delete(f"/v1/keys/{key['id']}", headers=metal_auth())).status_code == 200
        assert key["id"] not in [k["id"] for k in await listed(metal)]  # gone from the list at once
        metal.clock.advance(1.999)
        assert (await metal.http.get("/v1/keys/current", headers=own(key))).status_code == 200
        assert await metal.authenticates(key["key"], key["clientId"])
        metal.clock.advance(0.001)
        response = await metal.http.get("/v1/keys/current", headers=own(key))
        assert (response.status_code, response.json()) == (401, INVALID)
        assert not await metal.authenticates(key["key"], key["clientId"])


async def test_name_is_required_but_need_not_be_unique(metal: KeyClient) -> None:
    for name in (None, "", "  ", 7):
        response = await create(metal, name)
        assert (response.status_code, response.json()) == (400, {"error": "name is required"})
    no_body = await metal.http.post("/v1/keys", headers=metal_auth())
    assert no_body.json() == {"error": "name is required"}
    bad_json = await metal.http.post("/v1/keys", content=b"{", headers=metal_auth())
    assert (bad_json.status_code, bad_json.json()) == (400, {"error": "invalid JSON body"})
    first, second = await created(metal, "twin"), await created(metal, "twin")
    assert first["clientId"] != second["clientId"] and first["id"] != second["id"]
    assert [k["name"] for k in await listed(metal)].count("twin") == 2


async def test_the_plan_limit_is_a_422(metal: KeyClient) -> None:
    for number in range(METAL_KEY_LIMIT - 1):  # the bootstrap key is one of them
        await created(metal, f"k{number}")
    response = await create(metal, "one-too-many")
    assert (response.status_code, response.json()) == (422, {"error": "API key limit reached for your plan"})
    first = (await listed(metal, direction="asc", limit=2))[1]
    await metal.http.delete(f"/v1/keys/{first['id']}", headers=metal_auth())
    assert (await create(metal, "one-too-many")).status_code == 201


async def test_lists_page_newest_first_like_the_api(metal: KeyClient) -> None:
    made = [await created(metal, name) for name in ("c", "a", "b")]
    ids = [k["id"] for k in made]
    assert ids == sorted(ids)  # ids sort in creation order
    assert [k["id"] for k in await listed(metal)][:3] == ids[::-1]
    assert [k["id"] for k in await listed(metal, limit=1, page=2)] == [ids[1]]
    assert [k["id"] for k in await listed(metal, lt=ids[2], limit=2)] == [ids[1], ids[0]]
    assert [k["name"] for k in await listed(metal, sort="name", direction="asc")] == ["Emulator admin", "a", "b", "c"]
    assert len(await listed(metal, limit=0)) == 1  # clamped to 1
    for params in ({"page": 0}, {"page": 101}, {"limit": "x"}, {"sort": "secret"}, {"direction": "up"}):
        response = await metal.http.get("/v1/keys", params=params, headers=metal_auth())
        assert response.status_code == 400 and response.json()["error"].startswith("invalid pagination parameter")


async def test_unknown_routes_are_404_after_authentication(metal: KeyClient) -> None:
    response = await metal.http.patch("/v1/keys", headers=metal_auth())
    assert (response.status_code, response.json()) == (404, {"error": "not found"})
    assert (await metal.http.get("/v1/companies")).status_code == 401
