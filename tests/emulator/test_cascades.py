"""Soft deletes and their cascades, immediate and delayed."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from metorial_apply.emulator import EmulatorSettings

from .conftest import admin, create, emulator_client

pytestmark = pytest.mark.anyio


async def status(client: httpx.AsyncClient, path: str, ident: str) -> str:
    return (await client.get(f"{path}/{ident}")).json()["status"]


async def build_graph(client: httpx.AsyncClient) -> dict[str, str]:
    """A deployment with a default config, a vault, a config from it, an auth config, a template."""
    deployment = await create(
        client, "/provider-deployments", {"provider_id": "github", "provider_config": {"value": {}}}
    )
    vault = await create(
        client,
        "/provider-config-vaults",
        {"provider_id": "github", "name": "v", "provider_deployment_id": deployment["id"], "value": {}},
    )
    loose_vault = await create(
        client, "/provider-config-vaults", {"provider_id": "github", "name": "loose", "value": {}}
    )
    from_vault = await create(
        client, "/provider-configs", {"provider_id": "github", "provider_config_vault_id": loose_vault["id"]}
    )
    auth = await create(
        client,
        "/provider-auth-configs",
        {"provider_auth_method_id": "token", "provider_deployment_id": deployment["id"], "value": {"token": "t"}},
    )
    loose_auth = await create(
        client, "/provider-auth-configs", {"provider_auth_method_id": "token", "value": {"token": "t"}}
    )
    template = await create(
        client, "/session-templates",
        {"name": "t",
         "providers": [{"provider_deployment_id": deployment["id"], "provider_auth_config_id": auth["id"]}]},
    )
    other = await create(client, "/provider-deployments", {"provider_id": "github"})
    other_tp = await create(
        client,
        "/session-template-providers",
        {
            "session_template_id": template["id"],
            "provider_deployment_id": other["id"],
            "provider_config_id": from_vault["id"],
            "provider_auth_config_id": loose_auth["id"],
        },
    )
    return {
        "deployment": deployment["id"],
        "config": deployment["default_config"]["id"],
        "vault": vault["id"],
        "loose_vault": loose_vault["id"],
        "from_vault": from_vault["id"],
        "auth": auth["id"],
        "template": template["id"],
        "tp": template["providers"][0]["id"],
        "other": other["id"],
        "other_tp": other_tp["id"],
    }


async def test_deleting_a_deployment_archives_what_is_bound_to_it(client: httpx.AsyncClient) -> None:
    g = await build_graph(client)
    await client.delete(f"/provider-deployments/{g['deployment']}")
    assert await status(client, "/provider-configs", g["config"]) == "archived"
    assert await status(client, "/provider-config-vaults", g["vault"]) == "archived"
    assert await status(client, "/provider-auth-configs", g["auth"]) == "archived"
    assert await status(client, "/session-template-providers", g["tp"]) == "archived"
    # untouched: objects bound elsewhere
    assert await status(client, "/session-templates", g["template"]) == "active"
    assert await status(client, "/session-template-providers", g["other_tp"]) == "active"
    assert await status(client, "/provider-configs", g["from_vault"]) == "active"
    template = (await client.get(f"/session-templates/{g['template']}")).json()
    assert [p["id"] for p in template["providers"]] == [g["other_tp"]]


async def test_deleting_a_config_archives_template_providers_using_it(client: httpx.AsyncClient) -> None:
    g = await build_graph(client)
    await client.delete(f"/provider-configs/{g['from_vault']}")
    assert await status(client, "/session-template-providers", g["other_tp"]) == "archived"
    assert await status(client, "/session-template-providers", g["tp"]) == "active"


async def test_deleting_a_vault_archives_configs_from_it_transitively(client: httpx.AsyncClient) -> None:
    g = await build_graph(client)
    await client.delete(f"/provider-config-vaults/{g['loose_vault']}")
    assert await status(client, "/provider-configs", g["from_vault"]) == "archived"
    assert await status(client, "/session-template-providers", g["other_tp"]) == "archived"


async def test_deleting_a_template_archives_its_providers(client: httpx.AsyncClient) -> None:
    g = await build_graph(client)
    deleted = (await client.delete(f"/session-templates/{g['template']}")).json()
    assert deleted["status"] == "archived"
    assert {p["id"] for p in deleted["providers"]} == {g["tp"], g["other_tp"]}
    assert all(p["status"] == "archived" for p in deleted["providers"])
    assert await status(client, "/provider-deployments", g["deployment"]) == "active"
    listed = (
        await client.get(
            "/session-template-providers", params={"session_template_id": g["template"], "status": "archived"}
        )
    ).json()
    assert len(listed["items"]) == 2


async def test_deleting_an_auth_config_archives_the_template_providers_using_it(client: httpx.AsyncClient) -> None:
    """Issue 22 item 1: the template providers on it go, the other one and the deployment stay."""
    g = await build_graph(client)
    await client.delete(f"/provider-auth-configs/{g['auth']}")
    assert await status(client, "/provider-deployments", g["deployment"]) == "active"
    assert await status(client, "/session-template-providers", g["tp"]) == "archived"
    assert await status(client, "/session-template-providers", g["other_tp"]) == "active"


async def test_archived_objects_are_gone_for_writes_and_unusable_as_references(client: httpx.AsyncClient) -> None:
    g = await build_graph(client)
    await client.delete(f"/session-templates/{g['template']}")
    assert (await client.patch(f"/session-templates/{g['template']}", json={"name": "x"})).status_code == 410
    assert (
        await client.patch(f"/session-template-providers/{g['tp']}", json={"tool_filters": None})
    ).status_code == 410
    response = await client.post(
        "/session-template-providers",
        json={"session_template_id": g["template"], "provider_deployment_id": g["deployment"]},
    )
    assert response.status_code == 400 and response.json()["code"] == "use_after_delete"


async def test_delayed_cascade() -> None:
    async with emulator_client(EmulatorSettings(cascade_delay_ms=100)) as client:
        g = await build_graph(client)
        deleted = await client.delete(f"/provider-deployments/{g['deployment']}")
        assert deleted.json()["status"] == "archived"
        assert await status(client, "/provider-configs", g["config"]) == "active"
        assert (await admin(client, "GET", "/stats")).json()["pending_cascades"] == 1
        await asyncio.sleep(0.3)
        assert await status(client, "/provider-configs", g["config"]) == "archived"
        assert await status(client, "/session-template-providers", g["tp"]) == "archived"


async def test_concurrent_creates_and_deletes_in_process(client: httpx.AsyncClient) -> None:
    deployments = await asyncio.gather(
        *(
            create(client, "/provider-deployments", {"provider_id": "linear", "provider_config": {"value": {}}})
            for _ in range(20)
        )
    )
    auth = await create(client, "/provider-auth-configs",
                        {"provider_auth_method_id": "api_key", "value": {"api_key": "k"}})
    templates = await asyncio.gather(
        *(
            create(client, "/session-templates", {"name": f"t{i}", "providers": [
                {"provider_deployment_id": d["id"], "provider_auth_config_id": auth["id"]}]})
            for i, d in enumerate(deployments)
        )
    )
    assert len({t["id"] for t in templates}) == 20
    deleted = await asyncio.gather(*(client.delete(f"/provider-deployments/{d['id']}") for d in deployments))
    assert all(r.status_code == 200 for r in deleted)
    providers = (await client.get("/session-template-providers", params={"status": "archived", "limit": 100})).json()[
        "items"
    ]
    configs = (await client.get("/provider-configs", params={"provider_id": "linear"})).json()["items"]
    assert len(providers) == 20 and configs == []


async def test_template_provider_from_auth_config_only(client: httpx.AsyncClient) -> None:
    deployment = await create(
        client, "/provider-deployments", {"provider_id": "linear", "provider_config": {"value": {"team_key": "ENG"}}}
    )
    auth = await create(
        client,
        "/provider-auth-configs",
        {"provider_auth_method_id": "api_key", "provider_deployment_id": deployment["id"], "value": {"api_key": "k"}},
    )
    template = await create(client, "/session-templates", {"name": "t"})
    provider = await create(
        client,
        "/session-template-providers",
        {"session_template_id": template["id"], "provider_auth_config_id": auth["id"]},
    )
    assert provider["deployment"]["id"] == deployment["id"]
    assert provider["config"]["id"] == deployment["default_config"]["id"]
    await client.delete(f"/provider-configs/{deployment['default_config']['id']}")
    assert await status(client, "/session-template-providers", provider["id"]) == "archived"
    assert await status(client, "/provider-deployments", deployment["id"]) == "active"
