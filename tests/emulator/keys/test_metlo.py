"""The Metlo key emulator in-process: every documented endpoint, status, body and message."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest

from metorial_apply.emulator.keys.choices import METLO_KEY_LIMIT

from .conftest import METLO_ADMIN, KeyClient, key_client, metlo_auth

pytestmark = pytest.mark.anyio

UNAUTHORIZED = "Client unauthorized"
LIMIT = "Maximum API Key Limit Reached: 50. Consider deleting any that are not in use."
LISTED_FIELDS = {"name", "identifier", "created", "for"}


@pytest.fixture
async def metlo() -> AsyncIterator[KeyClient]:
    async with key_client("metlo") as client:
        yield client


async def create(metlo: KeyClient, name: str, key_for: str | None = None, key: str = METLO_ADMIN) -> httpx.Response:
    body = {"name": name} | ({"keyFor": key_for} if key_for is not None else {})
    return await metlo.http.post("/api/v1/keys/create", json=body, headers=metlo_auth(key))


async def listed(metlo: KeyClient, path: str = "/api/v1/keys/list") -> list[dict]:
    response = await metlo.http.get(path, headers=metlo_auth())
    assert response.status_code == 200, response.text
    return response.json()


def assert_error(response: httpx.Response, status: int, message: str) -> None:
    """Metlo answers errors with the bare message text (Express `res.send(message)`)."""
    assert response.status_code == status
    assert response.text == message
    assert response.headers["content-type"].startswith("text/html")


async def test_create_answers_the_documented_fields_with_the_secret_once(metlo: KeyClient) -> None:
    response = await create(metlo, "my-api-key", "GENERIC")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"apiKey", "name", "identifier", "created", "for"}
    assert re.fullmatch(r"metlo_[A-Za-z0-9]{32}", body["apiKey"])
    assert re.fullmatch(r"metlo\.[a-z0-9]{9}", body["identifier"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["created"])
    assert (body["name"], body["for"]) == ("my-api-key", "GENERIC")
    keys = await listed(metlo)
    assert all(set(k) == LISTED_FIELDS for k in keys)
    assert {k: v for k, v in body.items() if k != "apiKey"} in keys
    assert body["apiKey"] not in (await metlo.http.get("/api/v1/keys/list", headers=metlo_auth())).text


async def test_a_created_key_authenticates_against_the_api_itself(metlo: KeyClient) -> None:
    secret = (await create(metlo, "ingest")).json()["apiKey"]
    assert (await metlo.http.get("/api/v1/keys/list", headers=metlo_auth(secret))).status_code == 200
    made = await create(metlo, "made-by-the-new-key", key=secret)
    assert made.status_code == 200
    assert await metlo.authenticates(secret)
    assert await metlo.authenticates(made.json()["apiKey"])


async def test_missing_invalid_scheme_prefixed_and_deleted_keys_are_client_unauthorized(metlo: KeyClient) -> None:
    secret = (await create(metlo, "soon-gone")).json()["apiKey"]
    assert_error(await metlo.http.get("/api/v1/keys/list"), 401, UNAUTHORIZED)
    assert_error(await metlo.http.get("/api/v1/keys/list", headers=metlo_auth("metlo_wrong")), 401, UNAUTHORIZED)
    # The key goes in raw: a `Bearer ` prefix makes it a different (unknown) key.
    bearer = {"Authorization": f"Bearer {secret}"}
    assert_error(await metlo.http.get("/api/v1/keys/list", headers=bearer), 401, UNAUTHORIZED)
    deleted = await metlo.http.delete("/api/v1/keys/soon-gone/delete", headers=metlo_auth())
    assert (deleted.status_code, deleted.json()) == (200, {"status": "OK"})
    assert_error(await metlo.http.get("/api/v1/keys/list", headers=metlo_auth(secret)), 401, UNAUTHORIZED)
    # Every endpoint, known or not, checks the key first.
    for method, path in [("POST", "/api/v1/keys/create"), ("GET", "/api/v1/keys/onboarding"),
                         ("DELETE", "/api/v1/keys/x/delete"), ("GET", "/api/v1/nothing-here")]:
        assert_error(await metlo.http.request(method, path, headers=metlo_auth(secret)), 401, UNAUTHORIZED)


async def test_a_duplicate_name_is_refused_until_the_old_key_is_deleted(metlo: KeyClient) -> None:
    assert (await create(metlo, "my-api-key")).status_code == 200
    assert_error(await create(metlo, "my-api-key", "AWS"), 400, "Can not create key with name my-api-key")
    assert [k["name"] for k in await listed(metlo)].count("my-api-key") == 1
    await metlo.http.delete("/api/v1/keys/my-api-key/delete", headers=metlo_auth())
    assert (await create(metlo, "my-api-key")).status_code == 200


async def test_name_and_key_type_are_validated(metlo: KeyClient) -> None:
    for body in ({}, {"name": ""}, {"name": None}, {"name": 5}, {"keyFor": "GCP"}):
        response = await metlo.http.post("/api/v1/keys/create", json=body, headers=metlo_auth())
        assert_error(response, 400, "Key name is required.")
    for key_for in ("generic", "OTHER", 3, ["GCP"]):
        response = await metlo.http.post("/api/v1/keys/create", json={"name": "k", "keyFor": key_for},
                                         headers=metlo_auth())
        assert_error(response, 400, "The key must be for one of the following: GCP, AWS, GENERIC, ONBOARDING")
    for key_for in ("GENERIC", "ONBOARDING", "GCP", "AWS"):
        response = await create(metlo, f"for-{key_for}", key_for)
        assert (response.status_code, response.json()["for"]) == (200, key_for)
    for absent in (None, ""):
        response = await metlo.http.post("/api/v1/keys/create", json={"name": f"absent-{absent}", "keyFor": absent},
                                         headers=metlo_auth())
        assert response.json()["for"] == "GENERIC"
    assert len(await listed(metlo)) == 1 + 4 + 2  # nothing refused was stored


async def test_invalid_json_is_a_bad_request(metlo: KeyClient) -> None:
    response = await metlo.http.post("/api/v1/keys/create", content=b"{not json", headers=metlo_auth())
    assert_error(response, 400, "Bad Request")


async def test_the_fifty_key_limit_counts_every_active_key(metlo: KeyClient) -> None:
    assert METLO_KEY_LIMIT == 50
    for number in range(METLO_KEY_LIMIT - 1):  # the bootstrap key is the 50th
        assert (await create(metlo, f"k{number}")).status_code == 200
    assert_error(await create(metlo, "one-too-many"), 400, LIMIT)
    assert_error(await create(metlo, "k0"), 400, LIMIT)  # the limit is checked before the name
    assert len(await listed(metlo)) == METLO_KEY_LIMIT
    await metlo.http.delete("/api/v1/keys/k7/delete", headers=metlo_auth())
    assert (await create(metlo, "one-too-many")).status_code == 200


async def test_onboarding_lists_only_onboarding_keys_newest_first(metlo: KeyClient) -> None:
    for name, key_for in [("a", "ONBOARDING"), ("b", "GENERIC"), ("c", "ONBOARDING"), ("d", "GCP")]:
        await create(metlo, name, key_for)
    onboarding = await listed(metlo, "/api/v1/keys/onboarding")
    assert [k["name"] for k in onboarding] == ["c", "a"]
    assert all(set(k) == LISTED_FIELDS and k["for"] == "ONBOARDING" for k in onboarding)
    assert [k["name"] for k in await listed(metlo)] == ["emulator-admin", "a", "b", "c", "d"]


async def test_delete_by_any_name_and_unknown_names_are_404(metlo: KeyClient) -> None:
    odd = "prod~ingest~1 / with spaces"
    assert (await create(metlo, odd)).status_code == 200
    response = await metlo.http.delete(f"/api/v1/keys/{quote(odd, safe='')}/delete", headers=metlo_auth())
    assert (response.status_code, response.json()) == (200, {"status": "OK"})
    assert odd not in [k["name"] for k in await listed(metlo)]
    missing = await metlo.http.delete("/api/v1/keys/nope/delete", headers=metlo_auth())
    assert_error(missing, 404, "Did not find any matching keys for nope")


async def test_unknown_routes_are_404_after_authentication(metlo: KeyClient) -> None:
    assert_error(await metlo.http.get("/api/v1/keys", headers=metlo_auth()), 404, "Cannot GET /api/v1/keys")
    assert_error(await metlo.http.put("/api/v1/keys/list", headers=metlo_auth()), 404, "Cannot PUT /api/v1/keys/list")


async def test_a_deleted_key_works_until_its_revocation_window_ends() -> None:
    async with key_client("metlo", revoke_delay_ms=5000) as metlo:
        secret = (await create(metlo, "cached")).json()["apiKey"]
        await metlo.http.delete("/api/v1/keys/cached/delete", headers=metlo_auth())
        assert "cached" not in [k["name"] for k in await listed(metlo)]  # gone from lists at once
        metlo.clock.advance(4.999)
        assert (await metlo.http.get("/api/v1/keys/list", headers=metlo_auth(secret))).status_code == 200
        assert [k["authenticates"] for k in (await metlo.admin("GET", "/keys")).json()["items"]] == [True, True]
        metlo.clock.advance(0.001)
        assert_error(await metlo.http.get("/api/v1/keys/list", headers=metlo_auth(secret)), 401, UNAUTHORIZED)
        assert not await metlo.authenticates(secret)


async def test_a_deleted_key_stops_at_once_without_a_window(metlo: KeyClient) -> None:
    secret = (await create(metlo, "gone")).json()["apiKey"]
    await metlo.http.delete("/api/v1/keys/gone/delete", headers=metlo_auth(secret))  # a key may delete itself
    assert not await metlo.authenticates(secret)
    assert (await metlo.http.get("/api/v1/keys/list", headers=metlo_auth(secret))).status_code == 401
