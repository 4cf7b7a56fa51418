"""Managed kinds: fields, defaults, create/update/delete rules, validation, references, secrets."""

from __future__ import annotations

import httpx
import pytest

from .conftest import admin, auth_config, create

pytestmark = pytest.mark.anyio

CANARY = "CANARY-s3cr3t-value-4711"
DEPLOYMENT_FIELDS = {
    "object",
    "id",
    "status",
    "is_default",
    "name",
    "description",
    "metadata",
    "tool_filter",
    "provider_id",
    "locked_version",
    "default_config",
    "created_at",
    "updated_at",
}
CONFIG_FIELDS = {
    "object",
    "id",
    "status",
    "is_default",
    "name",
    "description",
    "metadata",
    "tool_filter",
    "provider_id",
    "specification_id",
    "deployment",
    "from_vault",
    "created_at",
    "updated_at",
}
VAULT_FIELDS = {
    "object",
    "id",
    "status",
    "name",
    "description",
    "metadata",
    "provider_id",
    "deployment",
    "created_at",
    "updated_at",
}
AUTH_CONFIG_FIELDS = {
    "object",
    "id",
    "type",
    "source",
    "status",
    "is_default",
    "name",
    "description",
    "metadata",
    "provider_id",
    "tool_filter",
    "auth_method",
    "deployment",
    "credentials",
    "created_at",
    "updated_at",
}
CREDENTIALS_FIELDS = {
    "object",
    "id",
    "type",
    "status",
    "is_default",
    "is_managed",
    "provider_id",
    "name",
    "description",
    "metadata",
    "scopes",
    "created_at",
    "updated_at",
}
TEMPLATE_FIELDS = {
    "object",
    "id",
    "status",
    "name",
    "description",
    "metadata",
    "providers",
    "integration_instance_id",
    "integration_instance_group_id",
    "identity_actor_id",
    "identity_id",
    "created_at",
    "updated_at",
}
TEMPLATE_PROVIDER_FIELDS = {
    "object",
    "id",
    "status",
    "tool_filter",
    "provider_id",
    "session_template_id",
    "deployment",
    "config",
    "auth_config",
    "created_at",
    "updated_at",
}
ALLOW_ALL = {"type": "allow_all", "ignore_parent_filters": False}


def error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    return body


async def test_deployment_create_get_update_delete(client: httpx.AsyncClient) -> None:
    body = await create(
        client,
        "/provider-deployments",
        {
            "provider_id": "metorial-github",
            "name": "  GitHub  ",
            "description": "",
            "metadata": {"team": "support", "n": [1, {"x": None}]},
        },
    )
    assert set(body) == DEPLOYMENT_FIELDS and body["id"].startswith("pde_")
    assert body["object"] == "provider.deployment" and body["status"] == "active" and body["is_default"] is False
    assert body["name"] == "GitHub" and body["description"] is None
    assert body["metadata"] == {"team": "support", "n": [1, {"x": None}]}
    assert body["tool_filter"] == ALLOW_ALL and body["locked_version"] is None and body["default_config"] is None
    assert body["created_at"].endswith("Z") and len(body["created_at"]) == 24
    assert (await client.get(f"/provider-deployments/{body['id']}")).json() == body
    patched = (
        await client.patch(
            f"/provider-deployments/{body['id']}",
            json={
                "description": "d",
                "metadata": {"only": "this"},
                "tool_filters": [{"type": "tool_keys", "keys": ["create_issue"]}],
            },
        )
    ).json()
    assert patched["name"] == "GitHub" and patched["description"] == "d" and patched["metadata"] == {"only": "this"}
    assert patched["tool_filter"] == {
        "type": "filter",
        "filters": [{"type": "tool_keys", "keys": ["create_issue"]}],
        "ignore_parent_filters": False,
    }
    assert patched["updated_at"] >= body["updated_at"]
    unchanged = (
        await client.patch(f"/provider-deployments/{body['id']}", json={"name": None, "metadata": None})
    ).json()
    assert (
        unchanged["name"] == "GitHub"
        and unchanged["metadata"] == {"only": "this"}
        and unchanged["tool_filter"]["type"] == "filter"
    )
    cleared = (
        await client.patch(f"/provider-deployments/{body['id']}", json={"description": "", "tool_filters": None})
    ).json()
    assert cleared["description"] is None and cleared["tool_filter"] == ALLOW_ALL
    deleted = await client.delete(f"/provider-deployments/{body['id']}")
    assert deleted.status_code == 200 and deleted.json()["status"] == "archived"
    assert (await client.get(f"/provider-deployments/{body['id']}")).json()["status"] == "archived"
    error(await client.patch(f"/provider-deployments/{body['id']}", json={"name": "x"}), 410, "gone")
    error(await client.delete(f"/provider-deployments/{body['id']}"), 410, "gone")


async def test_names_are_trimmed_as_javascript_trims(client: httpx.AsyncClient) -> None:
    # choices.TRIM_CHARACTERS: U+FEFF is trimmed (it is JavaScript white space), U+001C and U+0085 are not.
    body = await create(
        client,
        "/provider-deployments",
        {"provider_id": "github", "name": "\ufeff\u3000n\x1c", "description": "\x85d\u2028"},
    )
    assert (body["name"], body["description"]) == ("n\x1c", "\x85d")
    response = await client.post("/session-templates", json={"name": "\ufeff "})
    assert error(response, 400, "invalid_data")["errors"][0]["path"] == ["name"]


async def test_deployment_locked_version(client: httpx.AsyncClient) -> None:
    versions = (await client.get("/provider-versions", params={"provider_id": "github"})).json()["items"]
    old = next(v for v in versions if not v["is_current"])
    body = await create(
        client, "/provider-deployments", {"provider_id": "github", "locked_provider_version_id": old["id"]}
    )
    assert body["locked_version"] == old
    unlocked = (
        await client.patch(f"/provider-deployments/{body['id']}", json={"locked_provider_version_id": None})
    ).json()
    assert unlocked["locked_version"] is None
    slack_version = (await client.get("/provider-versions", params={"provider_id": "slack"})).json()["items"][0]
    wrong = await client.post(
        "/provider-deployments", json={"provider_id": "github", "locked_provider_version_id": slack_version["id"]}
    )
    assert error(wrong, 400, "invalid_data")["errors"][0]["path"] == ["locked_provider_version_id"]
    error(
        await client.post(
            "/provider-deployments", json={"provider_id": "github", "locked_provider_version_id": "prv_nope"}
        ),
        404,
        "not_found",
    )


async def test_deployment_with_default_config(client: httpx.AsyncClient) -> None:
    body = await create(
        client,
        "/provider-deployments",
        {
            "provider_id": "slack",
            "name": "Support",
            "metadata": {"stamp": "1"},
            "provider_config": {"value": {"workspace": CANARY}},
        },
    )
    default = body["default_config"]
    assert default["object"] == "provider.config#preview" and default["is_default"] is True
    assert default["name"] == "Default Config for Support" and default["metadata"] == {"stamp": "1"}
    config = (await client.get(f"/provider-configs/{default['id']}")).json()
    assert config["deployment"]["id"] == body["id"] and config["is_default"] is True
    named = await create(
        client,
        "/provider-deployments",
        {"provider_id": "slack", "provider_config": {"name": "mine", "value": {"workspace": "w"}}},
    )
    assert named["default_config"]["name"] == "mine"
    existing = await create(client, "/provider-configs", {"provider_id": "slack", "value": {"workspace": "w"}})
    reused = await create(
        client, "/provider-deployments", {"provider_id": "slack", "provider_config_id": existing["id"]}
    )
    assert reused["default_config"]["id"] == existing["id"]
    both = await client.post(
        "/provider-deployments",
        json={
            "provider_id": "slack",
            "provider_config_id": existing["id"],
            "provider_config": {"value": {"workspace": "w"}},
        },
    )
    error(both, 400, "invalid_data")
    invalid = await client.post(
        "/provider-deployments",
        json={"provider_id": "slack", "provider_config": {"value": {"default_channel": CANARY}}},
    )
    assert error(invalid, 400, "invalid_data")["errors"][0]["path"] == ["provider_config", "value", "workspace"]
    assert CANARY not in invalid.text


async def test_deployment_validation(client: httpx.AsyncClient) -> None:
    body = error(
        await client.post(
            "/provider-deployments", json={"name": 5, "metadata": [], "tool_filters": [{"type": "bogus"}]}
        ),
        400,
        "invalid_data",
    )
    assert body["entity"] == "body"
    paths = {tuple(e["path"]) for e in body["errors"]}
    assert paths == {("provider_id",), ("name",), ("metadata",), ("tool_filters", "0", "type")} or paths == {
        ("provider_id",),
        ("name",),
        ("metadata",),
        ("tool_filters", 0, "type"),
    }
    assert all({"code", "message", "path"} == set(e) for e in body["errors"])
    error(await client.post("/provider-deployments", json={"provider_id": "nope"}), 404, "not_found")
    ignored = await create(client, "/provider-deployments", {"provider_id": "github", "unknown_field": 1})
    assert "unknown_field" not in ignored


async def test_config_kinds_of_source(client: httpx.AsyncClient) -> None:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    config = await create(
        client,
        "/provider-configs",
        {
            "provider_id": "github",
            "provider_deployment_id": deployment["id"],
            "name": "c",
            "value": {"base_url": CANARY},
            "tool_filters": {"type": "tool_regex", "pattern": "^list_"},
        },
    )
    assert set(config) == CONFIG_FIELDS and config["id"].startswith("pcf_") and config["object"] == "provider.config"
    assert (
        config["deployment"]["id"] == deployment["id"]
        and config["from_vault"] is None
        and config["is_default"] is False
    )
    assert config["tool_filter"]["filters"] == [{"type": "tool_regex", "pattern": "^list_"}]
    vault = await create(
        client, "/provider-config-vaults", {"provider_id": "github", "name": "v", "value": {"base_url": CANARY}}
    )
    from_vault = await create(
        client, "/provider-configs", {"provider_id": "github", "provider_config_vault_id": vault["id"]}
    )
    assert from_vault["from_vault"]["id"] == vault["id"] and set(from_vault["from_vault"]) == VAULT_FIELDS
    listed = (await client.get("/provider-configs", params={"provider_config_vault_id": vault["id"]})).json()["items"]
    assert [c["id"] for c in listed] == [from_vault["id"]]
    by_spec = (
        await client.get("/provider-configs", params={"provider_specification_id": config["specification_id"]})
    ).json()["items"]
    assert {c["id"] for c in by_spec} == {config["id"], from_vault["id"]}
    both = await client.post(
        "/provider-configs", json={"provider_id": "github", "value": {}, "provider_config_vault_id": vault["id"]}
    )
    error(both, 400, "invalid_data")
    error(await client.post("/provider-configs", json={"provider_id": "github"}), 400, "invalid_data")
    patched = (
        await client.patch(
            f"/provider-configs/{config['id']}", json={"name": "renamed", "value": {"base_url": "ignored"}}
        )
    ).json()
    assert patched["name"] == "renamed"


async def test_vaults(client: httpx.AsyncClient) -> None:
    error(
        await client.post("/provider-config-vaults", json={"provider_id": "github", "value": {}}), 400, "invalid_data"
    )
    error(
        await client.post("/provider-config-vaults", json={"provider_id": "github", "name": "   ", "value": {}}),
        400,
        "invalid_data",
    )
    vault = await create(
        client,
        "/provider-config-vaults",
        {
            "provider_id": "slack",
            "name": " v ",
            "description": "d",
            "metadata": {"a": "b"},
            "value": {"workspace": CANARY},
        },
    )
    assert set(vault) == VAULT_FIELDS and vault["id"].startswith("pcvt_") and vault["object"] == "provider.config_vault"
    assert vault["name"] == "v" and vault["deployment"] is None
    updated = (await client.patch(f"/provider-config-vaults/{vault['id']}", json={"name": "w", "metadata": {}})).json()
    assert updated["name"] == "w" and updated["metadata"] == {}
    error(await client.patch(f"/provider-config-vaults/{vault['id']}", json={"name": ""}), 400, "invalid_data")


async def test_auth_configs(client: httpx.AsyncClient) -> None:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    body = await create(
        client,
        "/provider-auth-configs",
        {
            "provider_auth_method_id": "token",
            "provider_deployment_id": deployment["id"],
            "value": {"token": CANARY},
            "name": "pat",
        },
    )
    assert (
        set(body) == AUTH_CONFIG_FIELDS and body["id"].startswith("pac_") and body["object"] == "provider.auth_config"
    )
    assert body["type"] == "manual" and body["source"] == "manual" and body["auth_method"]["key"] == "token"
    assert body["deployment"]["id"] == deployment["id"] and body["credentials"] is None
    oauth = await create(
        client,
        "/provider-auth-configs",
        {
            "provider_auth_method_id": "oauth",
            "provider_deployment_id": deployment["id"],
            "value": {"client_id": "id", "client_secret": CANARY},
        },
    )
    assert oauth["type"] == "oauth_manual"
    by_id = await create(
        client,
        "/provider-auth-configs",
        {"provider_auth_method_id": body["auth_method"]["id"], "value": {"token": "t"}},
    )
    assert by_id["provider_id"] == deployment["provider_id"] and by_id["deployment"] is None
    ambiguous = await client.post("/provider-auth-configs", json={"provider_auth_method_id": "oauth", "value": {}})
    error(ambiguous, 400, "invalid_data")
    bad = await client.post(
        "/provider-auth-configs",
        json={
            "provider_auth_method_id": "token",
            "provider_deployment_id": deployment["id"],
            "value": {"token": 1, "extra": CANARY},
        },
    )
    paths = [e["path"] for error_ in [error(bad, 400, "invalid_data")] for e in error_["errors"]]
    assert ["value", "token"] in paths and CANARY not in bad.text
    listed = (
        await client.get("/provider-auth-configs", params={"provider_auth_method_id": body["auth_method"]["id"]})
    ).json()["items"]
    assert {a["id"] for a in listed} == {body["id"], by_id["id"]}
    slack = await create(client, "/provider-deployments", {"provider_id": "slack"})
    mismatch = await client.post(
        "/provider-auth-configs",
        json={
            "provider_auth_method_id": body["auth_method"]["id"],
            "provider_deployment_id": slack["id"],
            "value": {"token": "t"},
        },
    )
    assert mismatch.status_code == 400
    error(
        await client.post("/provider-auth-configs", json={"provider_auth_method_id": "nope", "value": {}}),
        404,
        "not_found",
    )


async def test_auth_credentials(client: httpx.AsyncClient) -> None:
    body = await create(
        client,
        "/provider-auth-credentials",
        {
            "provider_id": "github",
            "name": "app",
            "config": {"type": "oauth", "client_id": CANARY, "client_secret": CANARY, "scopes": ["repo"]},
        },
    )
    assert (
        set(body) == CREDENTIALS_FIELDS
        and body["id"].startswith("par_")
        and body["object"] == "provider.auth_credentials"
    )
    assert body["type"] == "oauth" and body["is_managed"] is False and body["scopes"] == ["repo"]
    updated = (
        await client.patch(
            f"/provider-auth-credentials/{body['id']}",
            json={"client_secret": CANARY + "2", "scopes": ["repo", "read:org"]},
        )
    ).json()
    assert updated["scopes"] == ["repo"]  # client fields are ignored on PATCH (test_credentials_rules.py)
    error(
        await client.post("/provider-auth-credentials", json={"provider_id": "github", "config": {"client_id": "x"}}),
        400,
        "invalid_data",
    )
    error(
        await client.post(
            "/provider-auth-credentials",
            json={
                "provider_id": "github",
                "config": {"type": "saml", "client_id": "x", "client_secret": "y", "scopes": []},
            },
        ),
        400,
        "invalid_data",
    )
    assert [
        c["id"] for c in (await client.get("/provider-auth-credentials", params={"origin": "custom"})).json()["items"]
    ] == [body["id"]]
    assert (await client.get("/provider-auth-credentials", params={"origin": "managed"})).json()["items"] == []
    missing = error(
        await client.post("/provider-auth-credentials", json={"provider_id": "github", "client_id": "x"}),
        400,
        "invalid_data",
    )
    assert [e["path"] for e in missing["errors"]] == [["config"]]


async def test_session_templates_and_providers(client: httpx.AsyncClient) -> None:
    deployment = await create(
        client, "/provider-deployments", {"provider_id": "github", "provider_config": {"value": {}}}
    )
    auth = await create(
        client,
        "/provider-auth-configs",
        {"provider_auth_method_id": "token", "provider_deployment_id": deployment["id"], "value": {"token": "t"}},
    )
    template = await create(
        client,
        "/session-templates",
        {
            "name": "bot",
            "metadata": {"k": "v"},
            "providers": [
                {
                    "provider_deployment_id": deployment["id"],
                    "provider_auth_config_id": auth["id"],
                    "tool_filters": [{"type": "tool_keys", "keys": ["list_issues"]}],
                }
            ],
        },
    )
    assert (
        set(template) == TEMPLATE_FIELDS
        and template["id"].startswith("set_")
        and template["object"] == "session.template"
    )
    provider = template["providers"][0]
    assert set(provider) == TEMPLATE_PROVIDER_FIELDS and provider["id"].startswith("stp_")
    assert provider["config"]["id"] == deployment["default_config"]["id"]  # resolved to the deployment's default
    assert provider["auth_config"] == {"object": "provider.auth_config#preview", "id": auth["id"]}
    assert (await client.get(f"/session-template-providers/{provider['id']}")).json() == provider
    error(await client.post("/session-templates", json={"description": "no name"}), 400, "invalid_data")
    patched = (await client.patch(f"/session-template-providers/{provider['id']}", json={"tool_filters": None})).json()
    assert patched["tool_filter"] == ALLOW_ALL
    renamed = (await client.patch(f"/session-templates/{template['id']}", json={"name": "bot2"})).json()
    assert renamed["name"] == "bot2" and len(renamed["providers"]) == 1
    listed = (await client.get("/session-template-providers", params={"session_template_id": template["id"]})).json()[
        "items"
    ]
    assert [p["id"] for p in listed] == [provider["id"]]


async def test_template_provider_rules(client: httpx.AsyncClient) -> None:
    template = await create(client, "/session-templates", {"name": "t"})
    empty = await client.post("/session-template-providers", json={"session_template_id": template["id"]})
    assert (
        error(empty, 400, "bad_request")["message"]
        == "Please provide at least a provider config, auth config, or deployment"
    )
    github = await create(client, "/provider-deployments", {"provider_id": "github"})
    slack_config = await create(client, "/provider-configs", {"provider_id": "slack", "value": {"workspace": "w"}})
    mixed = await client.post(
        "/session-template-providers",
        json={
            "session_template_id": template["id"],
            "provider_deployment_id": github["id"],
            "provider_config_id": slack_config["id"],
        },
    )
    assert error(mixed, 400, "bad_request")["message"] == "Provider session inputs have mismatched providers"
    config_only = await create(
        client, "/provider-configs", {"provider_id": "github", "provider_deployment_id": github["id"], "value": {}}
    )
    resolved = await create(
        client,
        "/session-template-providers",
        {"session_template_id": template["id"], "provider_config_id": config_only["id"],
         "provider_auth_config_id": await auth_config(client, "github")},
    )
    assert resolved["deployment"]["id"] == github["id"]
    vault = await create(client, "/provider-config-vaults", {"provider_id": "github", "name": "v", "value": {}})
    from_vault = await create(
        client,
        "/session-template-providers",
        {"session_template_id": template["id"], "provider_config_vault_id": vault["id"],
         "provider_auth_config_id": await auth_config(client, "github")},
    )
    assert from_vault["deployment"]["is_default"] is True and from_vault["config"]["id"].startswith("pcf_")
    error(
        await client.post(
            "/session-template-providers",
            json={"session_template_id": "set_nope", "provider_deployment_id": github["id"]},
        ),
        404,
        "not_found",
    )


async def test_template_provider_cap(client: httpx.AsyncClient) -> None:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    entry = {"provider_deployment_id": deployment["id"], "provider_auth_config_id": await auth_config(client, "github")}
    template = await create(client, "/session-templates", {"name": "t", "providers": [entry] * 100})
    assert len(template["providers"]) == 100
    over = await client.post("/session-template-providers", json={"session_template_id": template["id"], **entry})
    message = "Cannot associate more than 100 providers to a session template"  # sessionProviderInput.ts
    assert error(over, 400, "bad_request")["message"] == message
    too_many = await client.post("/session-templates", json={"name": "t", "providers": [entry] * 101})
    assert error(too_many, 400, "bad_request")["message"] == "Cannot associate more than 100 providers to a session"
    names = [t["name"] for t in (await client.get("/session-templates")).json()["items"]]
    assert names == ["t"]  # the failed create left nothing behind


async def test_template_tools_chain_filters(client: httpx.AsyncClient) -> None:
    deployment = await create(
        client,
        "/provider-deployments",
        {"provider_id": "github", "tool_filters": {"type": "tool_regex", "pattern": "ISSUE"}},
    )
    template = await create(
        client,
        "/session-templates",
        {
            "name": "t",
            "providers": [
                {
                    "provider_deployment_id": deployment["id"],
                    "provider_auth_config_id": await auth_config(client, "github"),
                    "tool_filters": [{"type": "tool_keys", "keys": ["list_issues", "search_code"]}],
                }
            ],
        },
    )
    tools = (await client.get(f"/session-templates/{template['id']}/tools")).json()
    assert tools["object"] == "list" and [t["key"] for t in tools["items"]] == ["list_issues"]
    error(await client.get("/session-templates/set_nope/tools"), 404, "not_found")


async def test_references_must_be_active(client: httpx.AsyncClient) -> None:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    await client.delete(f"/provider-deployments/{deployment['id']}")
    response = await client.post(
        "/provider-configs", json={"provider_id": "github", "provider_deployment_id": deployment["id"], "value": {}}
    )
    error(response, 400, "use_after_delete")
    slack = await create(client, "/provider-deployments", {"provider_id": "slack"})
    mismatch = await client.post(
        "/provider-configs", json={"provider_id": "github", "provider_deployment_id": slack["id"], "value": {}}
    )
    assert error(mismatch, 400, "provider_mismatch")["errors"][0]["path"] == ["provider_deployment_id"]


async def test_secrets_are_never_returned(client: httpx.AsyncClient) -> None:
    deployment = await create(
        client, "/provider-deployments", {"provider_id": "slack", "provider_config": {"value": {"workspace": CANARY}}}
    )
    await create(client, "/provider-configs", {"provider_id": "slack", "value": {"workspace": CANARY}})
    await create(
        client, "/provider-config-vaults", {"provider_id": "slack", "name": "v", "value": {"workspace": CANARY}}
    )
    await create(
        client, "/provider-auth-configs", {"provider_auth_method_id": "bot_token", "value": {"bot_token": CANARY}}
    )
    await create(
        client,
        "/provider-auth-credentials",
        {"provider_id": "slack", "config": {"client_id": CANARY, "client_secret": CANARY, "scopes": []}},
    )
    texts = []
    for path in (
        "/provider-deployments",
        "/provider-configs",
        "/provider-config-vaults",
        "/provider-auth-configs",
        "/provider-auth-credentials",
    ):
        listing = await client.get(path)
        texts.append(listing.text)
        for item in listing.json()["items"]:
            texts.append((await client.get(f"{path}/{item['id']}")).text)
            assert not {"value", "client_id", "client_secret"} & set(item)
    dump = await admin(client, "GET", "/objects")
    assert dump.status_code == 200 and dump.json()["count"] > 5
    texts.append(dump.text)
    assert all(CANARY not in text for text in texts)
    assert deployment["default_config"]
