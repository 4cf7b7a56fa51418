"""Every constant in emulator/choices.py switches something: flipping it changes what a client
sees. A constant nothing reads would pass unnoticed, so the table must name every one.

Admin routes are reached as a user's script would: in-process, httpx's ASGI transport presents
the loopback client 127.0.0.1; a non-loopback client is refused (403).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from metorial_apply.emulator import EmulatorSettings, asgi_transport, choices, create_app

from .conftest import SK, admin, auth_config, create, emulator_client

pytestmark = pytest.mark.anyio

Observe = Callable[[httpx.AsyncClient], Awaitable[Any]]


async def template_error(client: httpx.AsyncClient, entry: dict[str, Any]) -> tuple[int, str, str]:
    template = await create(client, "/session-templates", {"name": "t"})
    response = await client.post("/session-template-providers", json={"session_template_id": template["id"], **entry})
    body = response.json()
    return response.status_code, body.get("code", ""), body.get("message", "")


async def new_id(client: httpx.AsyncClient) -> str:
    return str((await create(client, "/session-templates", {"name": "t"}))["id"])


async def trimmed(client: httpx.AsyncClient) -> Any:
    return (await create(client, "/session-templates", {"name": "\u00a0padded\u00a0"}))["name"]


async def blank_auth_description(client: httpx.AsyncClient) -> Any:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github", "description": "d"})
    return (await client.patch(f"/provider-deployments/{deployment['id']}", json={"description": ""})).json()[
        "description"]


async def dev_preset(client: httpx.AsyncClient) -> Any:
    return (await admin(client, "PUT", "/rate-limit", json={"preset": "dev"})).json()


async def cursor(client: httpx.AsyncClient) -> int:
    return (await client.get("/session-templates", params={"cursor": "cur_YTpzZXRfMQ"})).status_code


async def mismatch(client: httpx.AsyncClient) -> Any:
    github = await create(client, "/provider-deployments", {"provider_id": "github"})
    slack = await create(client, "/provider-configs", {"provider_id": "slack", "value": {"workspace": "w"}})
    return await template_error(client, {"provider_deployment_id": github["id"], "provider_config_id": slack["id"]})


async def empty_provider(client: httpx.AsyncClient) -> Any:
    return await template_error(client, {})


async def second_provider(client: httpx.AsyncClient) -> Any:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    entry = {"provider_deployment_id": deployment["id"], "provider_auth_config_id": await auth_config(client, "github")}
    template = await create(client, "/session-templates", {"name": "t", "providers": [entry]})
    response = await client.post("/session-template-providers", json={"session_template_id": template["id"], **entry})
    return response.status_code, response.json().get("code")


async def over_the_limit(client: httpx.AsyncClient) -> Any:
    """The second provider with the cap at one, whatever the cap's value."""
    saved, choices.MAX_TEMPLATE_PROVIDERS = choices.MAX_TEMPLATE_PROVIDERS, 1
    try:
        return await second_provider(client)
    finally:
        choices.MAX_TEMPLATE_PROVIDERS = saved


async def other_deployment(client: httpx.AsyncClient) -> Any:
    mine = await create(client, "/provider-deployments", {"provider_id": "github"})
    other = await create(client, "/provider-deployments", {"provider_id": "github"})
    foreign = await auth_config(client, "github", other["id"])
    return await template_error(client, {"provider_deployment_id": mine["id"], "provider_auth_config_id": foreign})


async def no_config(client: httpx.AsyncClient) -> Any:
    deployment = await create(client, "/provider-deployments", {"provider_id": "slack"})
    auth = await auth_config(client, "slack", deployment["id"])
    return await template_error(client, {"provider_deployment_id": deployment["id"], "provider_auth_config_id": auth})


async def default_config(client: httpx.AsyncClient) -> Any:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    auth = await auth_config(client, "github")
    await template_error(client, {"provider_deployment_id": deployment["id"], "provider_auth_config_id": auth})
    return (await client.get(f"/provider-deployments/{deployment['id']}")).json()["default_config"]["description"]


async def no_auth_config(client: httpx.AsyncClient) -> Any:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    return await template_error(client, {"provider_deployment_id": deployment["id"]})


async def vault_lock(client: httpx.AsyncClient) -> Any:
    bound = await create(client, "/provider-deployments", {"provider_id": "github"})
    other = await create(client, "/provider-deployments", {"provider_id": "github"})
    vault = await create(client, "/provider-config-vaults", {"provider_id": "github", "name": "v", "value": {},
                                                            "provider_deployment_id": bound["id"]})
    response = await client.post("/provider-configs", json={
        "provider_id": "github", "provider_config_vault_id": vault["id"], "provider_deployment_id": other["id"]})
    return response.status_code, response.json()["code"], response.json()["message"]


async def auth_type(client: httpx.AsyncClient) -> Any:
    return (await client.get(f"/provider-auth-configs/{await auth_config(client, 'github')}")).json()["type"]


async def catalog_fields(client: httpx.AsyncClient) -> Any:
    spec = (await client.get("/provider-specifications", params={"limit": 1})).json()["items"][0]
    return spec["config_visibility"], spec["created_at"]


async def object_names(client: httpx.AsyncClient) -> Any:
    template = await create(client, "/session-templates", {"name": "t"})
    spec = (await client.get("/provider-specifications", params={"limit": 1})).json()["items"][0]
    return template["object"], spec["auth_methods"][0]["object"]


async def preview(client: httpx.AsyncClient) -> Any:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    config = await create(client, "/provider-configs", {"provider_id": "github", "value": {},
                                                        "provider_deployment_id": deployment["id"]})
    return config["deployment"]["object"]


async def regex_tools(client: httpx.AsyncClient) -> Any:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    entry = {"provider_deployment_id": deployment["id"], "provider_auth_config_id": await auth_config(client, "github"),
             "tool_filters": {"type": "tool_regex", "pattern": "^list_"}}
    template = await create(client, "/session-templates", {"name": "t", "providers": [entry]})
    return [t["key"] for t in (await client.get(f"/session-templates/{template['id']}/tools")).json()["items"]]


async def create_mismatch(client: httpx.AsyncClient) -> Any:
    vault = await create(client, "/provider-config-vaults",
                         {"provider_id": "slack", "name": "v", "value": {"workspace": "w"}})
    response = await client.post("/provider-configs", json={"provider_id": "github",
                                                            "provider_config_vault_id": vault["id"]})
    return response.status_code, response.json().get("code"), response.json().get("message")


async def limit_message(client: httpx.AsyncClient) -> Any:
    saved, choices.MAX_TEMPLATE_PROVIDERS = choices.MAX_TEMPLATE_PROVIDERS, 1
    try:
        deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
        entry = {"provider_deployment_id": deployment["id"],
                 "provider_auth_config_id": await auth_config(client, "github")}
        template = await create(client, "/session-templates", {"name": "t", "providers": [entry]})
        response = await client.post("/session-template-providers",
                                     json={"session_template_id": template["id"], **entry})
        return response.json().get("message")
    finally:
        choices.MAX_TEMPLATE_PROVIDERS = saved


async def patched_auth_name(client: httpx.AsyncClient) -> Any:
    ident = await auth_config(client, "github")
    return (await client.patch(f"/provider-auth-configs/{ident}", json={"name": " padded "})).json()["name"]


async def march_reset(client: httpx.AsyncClient) -> Any:
    await admin(client, "PUT", "/faults", json={"patch_resets_tool_filters": True})
    rule = {"type": "tool_keys", "keys": ["create_issue"]}
    deployment = await create(client, "/provider-deployments", {"provider_id": "github", "tool_filters": rule})
    return (await client.patch(f"/provider-deployments/{deployment['id']}", json={"name": "n"})).json()["tool_filter"]


async def reset_header(client: httpx.AsyncClient) -> Any:
    return int((await client.get("/providers")).headers["RateLimit-Reset"]) > 10**9


async def integration_refusal(client: httpx.AsyncClient) -> Any:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    await admin(client, "PUT", "/integration-links", json={"id": deployment["id"], "integration_provider_id": "ipr_1"})
    body = (await client.delete(f"/provider-deployments/{deployment['id']}")).json()
    return body.get("code"), body.get("message")


async def admin_stats(client: httpx.AsyncClient) -> int:
    return (await admin(client, "GET", "/stats")).status_code


FLIPS: dict[str, tuple[Any, Observe]] = {
    "ID_COUNTER_WIDTH": (12, new_id),
    "ID_SUFFIX_WIDTH": (3, new_id),
    "TRIM_CHARACTERS": (" ", trimmed),
    "BLANK_TEXT_KEEPS_OLD": (frozenset({"deployment"}), blank_auth_description),
    "RATE_LIMIT_PRESETS": ({"dev": (7, 60.0)}, dev_preset),
    "CURSOR_PREFIX": ("cx_", cursor),
    "PROVIDER_MISMATCH_CODE": ("provider_mismatch", mismatch),
    "PROVIDER_MISMATCH_MESSAGE": ("Mismatch", mismatch),
    "MAX_TEMPLATE_PROVIDERS": (1, second_provider),
    "TEMPLATE_PROVIDER_LIMIT_CODE": ("too_many", over_the_limit),
    "TEMPLATE_PROVIDER_EMPTY_MESSAGE": ("Empty", empty_provider),
    "DEPLOYMENT_MISMATCH_CODE": ("deployment_mismatch", other_deployment),
    "DEPLOYMENT_MISMATCH_MESSAGE": ("Other deployment", other_deployment),
    "CONFIG_REQUIRED_CODE": ("needs_config", no_config),
    "CONFIG_REQUIRED_MESSAGE": ("Needs a config", no_config),
    "DEFAULT_CONFIG_DESCRIPTION": ("made by the server", default_config),
    "AUTH_CONFIG_REQUIRED_CODE": ("needs_auth", no_auth_config),
    "AUTH_CONFIG_REQUIRED_MESSAGE": ("Needs auth", no_auth_config),
    "VAULT_LOCK_STATUS": (409, vault_lock),
    "VAULT_LOCK_CODE": ("locked", vault_lock),
    "VAULT_LOCK_MESSAGE": ("Locked", vault_lock),
    "AUTH_CONFIG_TYPE_BY_METHOD": ({"manual": "custom"}, auth_type),
    "CONFIG_VISIBILITY": ("plain", catalog_fields),
    "CATALOG_TIMESTAMP": ("2020-01-01T00:00:00.000Z", catalog_fields),
    "OBJECT_NAMES": ({**choices.OBJECT_NAMES, "session_template": "session_template",
                      "auth_method": "provider.auth_method"}, object_names),
    "PREVIEW_SUFFIX": ("", preview),
    "MAX_REGEX_LENGTH": (3, regex_tools),
    "ADMIN_PREFIX": ("/_admin", admin_stats),
    "CREATE_MISMATCH_CODE": ("other_provider", create_mismatch),
    "CREATE_MISMATCH_MESSAGE": ("Other provider", create_mismatch),
    "TEMPLATE_PROVIDER_LIMIT_MESSAGE": ("At most {limit}", limit_message),
    "TEMPLATE_PROVIDER_EMPTY_CODE": ("empty", empty_provider),
    "PATCH_TRIMS": (frozenset(), patched_auth_name),
    "MARCH_RESET_KINDS": (frozenset(), march_reset),
    "RATE_LIMIT_RESET_EPOCH": (False, reset_header),
    "INTEGRATION_ARCHIVE_REFUSALS": ({"deployment": ("linked", "Linked")}, integration_refusal),
}


def test_every_constant_has_a_flip() -> None:
    constants = {name for name in vars(choices) if name.isupper()}
    assert constants == set(FLIPS)


@pytest.mark.parametrize("name", sorted(FLIPS))
async def test_flipping_a_choice_changes_what_clients_see(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    flipped, observe = FLIPS[name]
    async with emulator_client() as client:
        before = await observe(client)
    monkeypatch.setattr(choices, name, flipped)
    async with emulator_client() as client:
        after = await observe(client)
    assert before != after, (name, before)


async def test_admin_routes_refuse_a_non_loopback_client() -> None:
    app = create_app(EmulatorSettings())
    transport = asgi_transport(app, client=("10.1.2.3", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        assert (await client.get("/_emulator/stats")).status_code == 403
        assert (await client.get("/_emulator/stats", headers=SK)).status_code == 404  # an API client: no such path
    app.state.emulator.close()
