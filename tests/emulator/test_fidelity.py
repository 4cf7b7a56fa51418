"""The backend rules the emulator follows from the platform's source (see emulator/choices.py):
template-provider defaults on both template paths, vault-bound configs, the auth-config
description rule and the presenters' object names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from .conftest import auth_config, create

pytestmark = pytest.mark.anyio

AddProvider = Callable[[httpx.AsyncClient, dict[str, Any]], Awaitable[httpx.Response]]


async def inline(client: httpx.AsyncClient, entry: dict[str, Any]) -> httpx.Response:
    return await client.post("/session-templates", json={"name": "t", "providers": [entry]})


async def separate(client: httpx.AsyncClient, entry: dict[str, Any]) -> httpx.Response:
    template = await create(client, "/session-templates", {"name": "t"})
    return await client.post("/session-template-providers", json={"session_template_id": template["id"], **entry})


PATHS = pytest.mark.parametrize("add", [inline, separate], ids=["inline", "session-template-providers"])


def rejected(response: httpx.Response, status: int, code: str, message: str) -> None:
    body = response.json()
    assert (response.status_code, body["code"], body["message"]) == (status, code, message), body


@PATHS
async def test_a_provider_with_auth_methods_needs_an_auth_config(client: httpx.AsyncClient, add: AddProvider) -> None:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    response = await add(client, {"provider_deployment_id": deployment["id"]})
    rejected(response, 400, "auth_config_required", "Provider requires an auth config to be provided")
    templates = (await client.get("/session-templates")).json()["items"]
    assert all(t["providers"] == [] for t in templates)  # nothing of the failed call stays


@PATHS
async def test_a_schema_with_required_properties_needs_a_config(client: httpx.AsyncClient, add: AddProvider) -> None:
    deployment = await create(client, "/provider-deployments", {"provider_id": "slack"})
    auth = await auth_config(client, "slack", deployment["id"])
    response = await add(client, {"provider_deployment_id": deployment["id"], "provider_auth_config_id": auth})
    rejected(response, 400, "config_required", "Provider requires a config to be provided")


@PATHS
async def test_pieces_bound_to_another_deployment_are_refused(client: httpx.AsyncClient, add: AddProvider) -> None:
    mine = await create(client, "/provider-deployments", {"provider_id": "github"})
    other = await create(client, "/provider-deployments", {"provider_id": "github"})
    foreign_auth = await auth_config(client, "github", other["id"])
    foreign_config = await create(
        client, "/provider-configs", {"provider_id": "github", "provider_deployment_id": other["id"], "value": {}}
    )
    message = "Provider session inputs cannot be used with the selected deployment"
    response = await add(client, {"provider_deployment_id": mine["id"], "provider_auth_config_id": foreign_auth})
    rejected(response, 400, "bad_request", message)
    response = await add(client, {"provider_deployment_id": mine["id"], "provider_config_id": foreign_config["id"],
                                  "provider_auth_config_id": await auth_config(client, "github")})
    rejected(response, 400, "bad_request", message)


@PATHS
async def test_no_config_gets_an_empty_default_config_nobody_owns(client: httpx.AsyncClient, add: AddProvider) -> None:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github", "name": "gh",
                                                                "metadata": {"stamp": "mine"}})
    auth = await auth_config(client, "github")
    response = await add(client, {"provider_deployment_id": deployment["id"], "provider_auth_config_id": auth})
    assert response.status_code == 200, response.text
    config = (await client.get(f"/provider-deployments/{deployment['id']}")).json()["default_config"]
    assert config["name"] == "Default Config for gh" and config["is_default"] is True and config["metadata"] == {}
    again = await add(client, {"provider_deployment_id": deployment["id"], "provider_auth_config_id": auth})
    listed = (await client.get("/provider-configs", params={"provider_deployment_id": deployment["id"]})).json()
    assert again.status_code == 200 and [c["id"] for c in listed["items"]] == [config["id"]]  # reused, not a second


async def test_a_config_from_a_bound_vault_takes_the_vaults_deployment(client: httpx.AsyncClient) -> None:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    vault = await create(client, "/provider-config-vaults", {"provider_id": "github", "name": "v", "value": {},
                                                            "provider_deployment_id": deployment["id"]})
    config = await create(client, "/provider-configs",
                          {"provider_id": "github", "provider_config_vault_id": vault["id"]})
    assert config["deployment"]["id"] == deployment["id"]
    loose = await create(client, "/provider-config-vaults", {"provider_id": "github", "name": "l", "value": {}})
    unbound = await create(client, "/provider-configs",
                           {"provider_id": "github", "provider_config_vault_id": loose["id"]})
    assert unbound["deployment"] is None


async def test_a_config_whose_deployment_differs_from_its_vaults_is_412(client: httpx.AsyncClient) -> None:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    other = await create(client, "/provider-deployments", {"provider_id": "github"})
    vault = await create(client, "/provider-config-vaults", {"provider_id": "github", "name": "v", "value": {},
                                                            "provider_deployment_id": deployment["id"]})
    response = await client.post("/provider-configs", json={
        "provider_id": "github", "provider_config_vault_id": vault["id"], "provider_deployment_id": other["id"]})
    rejected(response, 412, "deployment_lock_mismatch", "Vault is locked to a different deployment")


@pytest.mark.parametrize("blank", ["", "   "])
async def test_an_auth_config_keeps_its_description_when_sent_a_blank(client: httpx.AsyncClient, blank: str) -> None:
    auth_id = await auth_config(client, "github")
    await client.patch(f"/provider-auth-configs/{auth_id}", json={"description": "kept"})
    patched = (await client.patch(f"/provider-auth-configs/{auth_id}", json={"description": blank})).json()
    assert patched["description"] == "kept"
    deployment = await create(client, "/provider-deployments", {"provider_id": "github", "description": "x"})
    cleared = (await client.patch(f"/provider-deployments/{deployment['id']}", json={"description": blank})).json()
    assert cleared["description"] == (blank or None)  # other kinds store it as sent, untrimmed ("" reads back empty)


async def test_object_names_follow_the_platforms_presenters(client: httpx.AsyncClient) -> None:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    template = (await inline(client, {"provider_deployment_id": deployment["id"],
                                      "provider_auth_config_id": await auth_config(client, "github")})).json()
    assert template["object"] == "session.template"
    assert template["providers"][0]["object"] == "session.template.provider"
    provider = (await client.get("/providers", params={"limit": 100})).json()["items"][0]
    version = provider["current_version"]["id"]
    methods = (await client.get("/provider-auth-methods", params={"provider_version_id": version})).json()["items"]
    assert {m["object"] for m in methods} == {"provider.capabilities.auth_method"}
    schema = (await client.get("/provider-config-schema", params={"provider_id": provider["id"]})).json()
    assert schema["object"] == "provider.capabilities.config.schema"
    spec = (await client.get("/provider-specifications", params={"provider_version_id": version})).json()["items"][0]
    assert all(isinstance(t["instructions"], list) for t in spec["tools"])
    counts = {c["key"]: c["tool_count"] for c in spec["tool_categories"]}
    expected = {c: sum(c in t["tool_category_keys"] for t in spec["tools"]) for c in counts}
    assert counts == expected and sum(counts.values()) == len(spec["tools"])
