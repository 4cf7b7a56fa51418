"""The read-only catalog: fields, filters, deterministic ids, default deployments, config schema."""

from __future__ import annotations

import httpx
import pytest

from .conftest import create, emulator_client

pytestmark = pytest.mark.anyio

PROVIDER_FIELDS = {
    "object",
    "id",
    "access",
    "status",
    "identifier",
    "name",
    "slug",
    "description",
    "metadata",
    "publisher",
    "current_version",
    "oauth",
    "created_at",
    "updated_at",
}
VERSION_FIELDS = {
    "object",
    "id",
    "version",
    "provider_id",
    "is_current",
    "name",
    "description",
    "metadata",
    "specification_id",
    "created_at",
    "updated_at",
}
SPEC_FIELDS = {
    "object",
    "id",
    "key",
    "name",
    "description",
    "config_schema",
    "config_visibility",
    "tools",
    "tool_categories",
    "auth_methods",
    "provider_id",
    "created_at",
    "updated_at",
}
METHOD_FIELDS = {
    "object",
    "id",
    "type",
    "key",
    "name",
    "description",
    "capabilities",
    "provider_id",
    "provider_specification_id",
    "input_schema",
    "output_schema",
    "scopes",
    "adapters",
    "created_at",
    "updated_at",
}
TOOL_FIELDS = {
    "object",
    "id",
    "key",
    "name",
    "description",
    "capabilities",
    "constraints",
    "instructions",
    "tool_category_keys",
    "specification_id",
    "provider_id",
    "input_schema",
    "output_schema",
    "tags",
    "created_at",
    "updated_at",
}


async def items(client: httpx.AsyncClient, path: str, **params: object) -> list[dict]:
    response = await client.get(path, params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_providers(client: httpx.AsyncClient) -> None:
    providers = await items(client, "/providers")
    assert {p["slug"] for p in providers} >= {"github", "slack", "linear", "notion", "google-drive"}
    for provider in providers:
        assert set(provider) == PROVIDER_FIELDS and provider["id"].startswith("pro_")
        assert provider["object"] == "provider" and provider["current_version"]["is_current"] is True
        assert provider["publisher"]["object"] == "provider.publisher"
        assert provider["created_at"].endswith("Z")
    github = next(p for p in providers if p["slug"] == "github")
    assert github["oauth"]["status"] and "auto_registration" in github["oauth"]
    assert (await client.get(f"/providers/{github['id']}")).json() == github
    assert [p["slug"] for p in await items(client, "/providers", search="drive")] == ["google-drive"]
    assert [p["id"] for p in await items(client, "/providers", id=github["id"])] == [github["id"]]


async def test_versions_specs_methods_tools(client: httpx.AsyncClient) -> None:
    versions = await items(client, "/provider-versions", provider_id="github")
    assert len(versions) >= 2 and sum(v["is_current"] for v in versions) == 1
    assert all(set(v) == VERSION_FIELDS and v["id"].startswith("prv_") for v in versions)
    current = next(v for v in versions if v["is_current"])
    specs = await items(client, "/provider-specifications", provider_version_id=current["id"])
    assert [s["id"] for s in specs] == [current["specification_id"]]
    spec = specs[0]
    assert set(spec) == SPEC_FIELDS and spec["id"].startswith("psp_") and spec["config_schema"]["type"] == "object"
    methods = await items(client, "/provider-auth-methods", provider_version_id=current["id"])
    assert {m["key"] for m in methods} == {"oauth", "token"}
    assert all(set(m) == METHOD_FIELDS and m["id"].startswith("pam_") for m in methods)
    token = next(m for m in methods if m["key"] == "token")
    assert token["type"] == "manual" and token["input_schema"]["schema"]["required"] == ["token"]
    oauth = next(m for m in methods if m["key"] == "oauth")
    assert oauth["type"] == "oauth" and oauth["scopes"][0]["object"]
    tools = await items(client, "/provider-tools", provider_version_id=current["id"])
    assert 3 <= len(tools) <= 6 and {"create_issue", "list_issues"} <= {t["key"] for t in tools}
    assert all(set(t) == TOOL_FIELDS and t["id"].startswith("pto_") for t in tools)
    assert (await client.get(f"/provider-tools/{tools[0]['id']}")).json() == tools[0]
    assert (await client.get(f"/provider-auth-methods/{token['id']}")).json() == token
    old = next(v for v in versions if not v["is_current"])
    assert len(await items(client, "/provider-tools", provider_version_id=old["id"])) < len(tools)


@pytest.mark.parametrize("path", ["/provider-auth-methods", "/provider-tools"])
async def test_version_filter_is_required(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 400 and response.json()["errors"][0]["path"] == ["provider_version_id"]


async def test_spec_filters_by_deployment_and_config(client: httpx.AsyncClient) -> None:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    config = await create(client, "/provider-configs", {"provider_id": "github", "value": {}})
    by_deployment = await items(client, "/provider-specifications", provider_deployment_id=deployment["id"])
    by_config = await items(client, "/provider-specifications", provider_config_id=config["id"])
    assert [s["id"] for s in by_deployment] == [s["id"] for s in by_config] == [config["specification_id"]]


async def test_catalog_ids_are_deterministic() -> None:
    async with emulator_client() as one, emulator_client() as two:
        first = [p["id"] for p in await items(one, "/providers")]
        second = [p["id"] for p in await items(two, "/providers")]
        assert first == second
        tools_one = [
            t["id"]
            for t in await items(
                one,
                "/provider-tools",
                provider_id="github",
                provider_version_id=(await items(one, "/provider-versions"))[0]["id"],
            )
        ]
        assert tools_one


async def test_default_deployments_for_providers_without_required_config(client: httpx.AsyncClient) -> None:
    providers = {p["id"]: p for p in await items(client, "/providers")}
    defaults = [d for d in await items(client, "/provider-deployments") if d["is_default"]]
    assert len(defaults) >= 2
    for deployment in defaults:
        provider = providers[deployment["provider_id"]]
        assert deployment["name"] == f"Default Deployment for {provider['name']}"
        assert deployment["description"] == "Auto-created by Metorial" and deployment["metadata"] == {}
        schema = (await client.get("/provider-config-schema", params={"provider_id": provider["id"]})).json()
        assert not schema["schema"]["schema"].get("required")
    slugs = {providers[d["provider_id"]]["slug"] for d in defaults}
    assert "slack" not in slugs and "github" in slugs


async def test_config_schema_endpoint(client: httpx.AsyncClient) -> None:
    slack = (await client.get("/provider-config-schema", params={"provider_id": "slack"})).json()
    assert set(slack) == {
        "object",
        "visibility",
        "specification_id",
        "provider_id",
        "schema",
        "created_at",
        "updated_at",
    }
    assert slack["schema"]["type"] == "json_schema" and slack["schema"]["schema"]["required"] == ["workspace"]
    deployment = await create(client, "/provider-deployments", {"provider_id": "slack"})
    config = await create(client, "/provider-configs", {"provider_id": "slack", "value": {"workspace": "acme"}})
    for params in (
        {"provider_deployment_id": deployment["id"]},
        {"provider_config_id": config["id"]},
        {"provider_version_id": (await items(client, "/provider-versions", provider_id="slack"))[0]["id"]},
    ):
        body = (await client.get("/provider-config-schema", params=params)).json()
        assert body["provider_id"] == slack["provider_id"]
    assert (await client.get("/provider-config-schema")).status_code == 400
    missing = await client.get("/provider-config-schema", params={"provider_id": "nope"})
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


async def test_catalog_is_read_only(client: httpx.AsyncClient) -> None:
    assert (await client.post("/providers", json={"name": "x"})).status_code == 404
