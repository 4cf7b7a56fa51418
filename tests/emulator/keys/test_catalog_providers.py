"""The Metorial emulator's catalog has `metal` and `metlo` providers whose config takes a key."""

from __future__ import annotations

import httpx
import pytest

from ..conftest import emulator_client

pytestmark = pytest.mark.anyio

CANARY = "pk_CANARY_canary_canary_canary_canary_canary"


async def schema_of(client: httpx.AsyncClient, slug: str) -> dict:
    response = await client.get("/provider-config-schema", params={"provider_id": slug})
    assert response.status_code == 200, response.text
    return response.json()["schema"]["schema"]


async def test_metal_and_metlo_providers_take_their_keys_as_config() -> None:
    async with emulator_client() as client:
        providers = {p["slug"]: p for p in (await client.get("/providers", params={"limit": 100})).json()["items"]}
        assert {"metal", "metlo"} <= set(providers)
        assert providers["metal"]["current_version"]["version"] == "1.0.0"
        metal, metlo = await schema_of(client, "metal"), await schema_of(client, "metlo")
        assert metal["required"] == ["client_id", "api_key"] and metlo["required"] == ["api_key"]
        assert set(metlo["properties"]) == {"api_key", "url"}
        for slug in ("metal", "metlo"):
            version = providers[slug]["current_version"]["id"]
            tools = (await client.get("/provider-tools", params={"provider_version_id": version})).json()["items"]
            assert len(tools) >= 3
        # They need config, so the platform makes no default deployment for them.
        deployments = (await client.get("/provider-deployments", params={"limit": 100})).json()["items"]
        assert not {d["provider_id"] for d in deployments} & {providers["metal"]["id"], providers["metlo"]["id"]}


async def test_vaults_for_them_need_the_key_and_never_show_it() -> None:
    async with emulator_client() as client:
        missing = await client.post("/provider-config-vaults",
                                    json={"provider_id": "metal", "name": "m", "value": {"client_id": "ci_x"}})
        assert missing.status_code == 400 and CANARY not in missing.text
        vault = await client.post("/provider-config-vaults", json={
            "provider_id": "metal", "name": "m", "value": {"client_id": "ci_x", "api_key": CANARY}})
        assert vault.status_code == 200 and CANARY not in vault.text
        metlo = await client.post("/provider-config-vaults", json={
            "provider_id": "metlo", "name": "l", "value": {"api_key": CANARY, "url": "https://metlo.example"}})
        assert metlo.status_code == 200 and CANARY not in metlo.text
        unknown = await client.post("/provider-config-vaults", json={
            "provider_id": "metlo", "name": "l", "value": {"api_key": CANARY, "token": "x"}})
        assert unknown.status_code == 400 and CANARY not in unknown.text
