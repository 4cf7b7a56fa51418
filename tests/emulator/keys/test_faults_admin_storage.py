"""Key emulators' faults, admin routes, hashed storage, bootstrap key and in-process state dir."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest

from metorial_apply.emulator import asgi_transport
from metorial_apply.emulator.keys import bootstrap_credentials, key_emulator_of, local_key_app

from .conftest import METAL_ADMIN, METLO_ADMIN, key_client, metal_auth, metlo_auth

pytestmark = pytest.mark.anyio


async def test_a_dropped_create_is_committed_and_its_answer_lost() -> None:
    async with key_client("metal") as metal:
        assert (await metal.admin("PUT", "/faults", json={"drop_next": 1})).status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            await metal.http.post("/v1/keys", json={"name": "lost"}, headers=metal_auth())
        names = [k["name"] for k in (await metal.admin("GET", "/keys")).json()["items"]]
        assert names.count("lost") == 1
        assert (await metal.admin("GET", "/stats")).json()["faults"]["drop"] == 1
        again = await metal.http.post("/v1/keys", json={"name": "kept"}, headers=metal_auth())
        assert again.status_code == 201  # forced drops are used up


async def test_a_dropped_delete_is_committed_too() -> None:
    async with key_client("metlo") as metlo:
        secret = (await metlo.http.post("/api/v1/keys/create", json={"name": "x"}, headers=metlo_auth())).json()
        await metlo.admin("PUT", "/faults", json={"drop_next": 1})
        with pytest.raises(httpx.RemoteProtocolError):
            await metlo.http.delete("/api/v1/keys/x/delete", headers=metlo_auth())
        assert not await metlo.authenticates(secret["apiKey"])


async def test_500s_and_429s_commit_nothing_and_use_each_services_error_shape() -> None:
    async with key_client("metlo") as metlo:
        await metlo.admin("PUT", "/faults", json={"error_next": 1, "burst_429_next": 1})
        for status, text in ((429, "Too Many Requests"), (500, "Internal Server Error")):
            response = await metlo.http.post("/api/v1/keys/create", json={"name": "n"}, headers=metlo_auth())
            assert (response.status_code, response.text) == (status, text)
        assert [k["name"] for k in (await metlo.admin("GET", "/keys")).json()["items"]] == ["emulator-admin"]
    async with key_client("metal") as metal:
        await metal.admin("PUT", "/faults", json={"error_next": 1})
        response = await metal.http.post("/v1/keys", json={"name": "n"}, headers=metal_auth())
        assert (response.status_code, response.json()) == (500, {"error": "internal server error"})
        assert (await metal.admin("GET", "/stats")).json()["keys"] == {"active": 1, "deleted": 0}


async def test_latency_delays_every_api_answer() -> None:
    async with key_client("metlo", revoke_delay_ms=0) as metlo:
        await metlo.admin("PUT", "/faults", json={"latency_ms": 150})
        started = time.monotonic()
        assert (await metlo.http.get("/api/v1/keys/list", headers=metlo_auth())).status_code == 200
        assert time.monotonic() - started >= 0.15


async def test_admin_faults_take_the_revoke_delay_and_refuse_bad_values_whole() -> None:
    async with key_client("metal") as metal:
        ok = await metal.admin("PUT", "/faults", json={"revoke_delay_ms": 250, "latency_ms": 0})
        assert ok.json()["revoke_delay_ms"] == 250
        for body in ({"revoke_delay_ms": -1}, {"revoke_delay_ms": 10, "error_rate": 3}, {"nope": 1}):
            bad = await metal.admin("PUT", "/faults", json=body)
            assert bad.status_code == 400
        faults = (await metal.admin("GET", "/faults")).json()
        assert (faults["revoke_delay_ms"], faults["error_rate"]) == (250, 0.0)


async def test_admin_routes_list_keys_without_secrets_and_answer_api_clients_404() -> None:
    async with key_client("metal") as metal:
        key = (await metal.http.post("/v1/keys", json={"name": "visible"}, headers=metal_auth())).json()["data"]
        listing = await metal.admin("GET", "/keys")
        assert key["key"] not in listing.text and METAL_ADMIN["api_key"] not in listing.text
        item = next(k for k in listing.json()["items"] if k["name"] == "visible")
        assert (item["identity"], item["id"], item["status"], item["authenticates"]) == (
            key["clientId"], key["id"], "active", True)
        as_api = await metal.http.get("/_emulator/keys", headers=metal_auth())
        assert (as_api.status_code, as_api.json()) == (404, {"error": "not found"})
        check = await metal.admin("POST", "/authenticate", json={"api_key": key["key"], "client_id": key["clientId"]})
        assert check.json() == {"ok": True, "name": "visible", "identity": key["clientId"]}


async def test_reset_wipes_keys_and_brings_the_bootstrap_key_back() -> None:
    async with key_client("metlo") as metlo:
        await metlo.http.post("/api/v1/keys/create", json={"name": "spare"}, headers=metlo_auth())
        await metlo.http.delete("/api/v1/keys/emulator-admin/delete", headers=metlo_auth())
        assert not await metlo.authenticates(METLO_ADMIN)
        assert (await metlo.admin("POST", "/reset")).json() == {"ok": True}
        assert await metlo.authenticates(METLO_ADMIN)
        assert [k["name"] for k in (await metlo.admin("GET", "/keys")).json()["items"]] == ["emulator-admin"]
        assert (await metlo.admin("GET", "/stats")).json()["total_calls"] == 0


def _database_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())


async def test_secrets_are_stored_only_as_hashes(tmp_path: Path) -> None:
    for api, path, headers, secret_of in (
        ("metlo", "/api/v1/keys/create", metlo_auth(), lambda body: body["apiKey"]),
        ("metal", "/v1/keys", metal_auth(), lambda body: body["data"]["key"]),
    ):
        db = tmp_path / f"{api}.sqlite3"
        async with key_client(api, db_path=str(db)) as client:
            secrets = []
            for number in range(3):
                response = await client.http.post(path, json={"name": f"k{number}"}, headers=headers)
                secrets.append(secret_of(response.json()))
            stored = _database_bytes(db)
            assert stored  # the test reads the real database (file and WAL)
            for secret in [*secrets, bootstrap_credentials(api)["api_key"]]:
                assert secret.encode() not in stored
                assert hashlib.sha256(secret.encode()).hexdigest().encode() in stored


async def test_the_bootstrap_key_is_seeded_once_per_database(tmp_path: Path) -> None:
    db = str(tmp_path / "metal.sqlite3")
    async with key_client("metal", db_path=db) as metal:
        spare = (await metal.http.post("/v1/keys", json={"name": "spare"}, headers=metal_auth())).json()["data"]
        await metal.http.delete(f"/v1/keys/{'0' * 23}1", headers=metal_auth())
    async with key_client("metal", db_path=db) as metal:  # a restart on the same file
        assert not await metal.authenticates(METAL_ADMIN["api_key"], METAL_ADMIN["client_id"])
        assert await metal.authenticates(spare["key"], spare["clientId"])


async def test_local_apps_keep_state_in_the_state_dir(tmp_path: Path) -> None:
    state = tmp_path / ".metorial-apply"
    app = local_key_app("metlo", state)
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url="http://metlo.local") as http:
        made = await http.post("/api/v1/keys/create", json={"name": "kept"}, headers=metlo_auth())
        assert made.status_code == 200
    key_emulator_of(app).close()
    assert (state / "metlo-emulator.sqlite3").is_file()
    again = local_key_app("metlo", state)
    try:
        assert key_emulator_of(again).authenticate(key_emulator_of(again).service.credentials_from(
            {"api_key": made.json()["apiKey"]})) is not None
    finally:
        key_emulator_of(again).close()
