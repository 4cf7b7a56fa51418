"""Provider auth credentials follow the platform's engine (choices.py, Auth credentials): a PATCH
applies name, description and metadata only; client fields are ignored; an auth config's
credentials link cannot be set or re-pointed through the API; DELETE archives with no cascade."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import create

pytestmark = pytest.mark.anyio

CONFIG = {"type": "oauth", "client_id": "client-1", "client_secret": "secret-1", "scopes": ["repo"]}


async def new_credentials(client: httpx.AsyncClient) -> dict[str, Any]:
    body = {"provider_id": "github", "name": "app", "config": CONFIG}
    return await create(client, "/provider-auth-credentials", body)


def stored_secret(client: httpx.AsyncClient, ident: str) -> Any:
    """What the emulator keeps of the client id and secret (never served by the API)."""
    return client.app.state.emulator.store.get(ident).secret  # type: ignore[attr-defined]


async def test_patch_ignores_client_fields(client: httpx.AsyncClient) -> None:
    body = await new_credentials(client)
    response = await client.patch(
        f"/provider-auth-credentials/{body['id']}",
        json={"client_id": "client-2", "client_secret": "secret-2", "scopes": ["repo", "read:org"]},
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["scopes"] == ["repo"]
    unchanged = {k: v for k, v in body.items() if k != "updated_at"}
    assert {k: v for k, v in updated.items() if k != "updated_at"} == unchanged
    assert stored_secret(client, body["id"]) == {"client_id": "client-1", "client_secret": "secret-1"}
    fetched = (await client.get(f"/provider-auth-credentials/{body['id']}")).json()
    assert fetched["scopes"] == ["repo"] and "client_id" not in fetched and "client_secret" not in fetched


async def test_patch_still_applies_name_description_metadata(client: httpx.AsyncClient) -> None:
    body = await new_credentials(client)
    updated = (
        await client.patch(
            f"/provider-auth-credentials/{body['id']}",
            json={"name": "renamed", "description": "d", "metadata": {"k": "v"}, "client_secret": "secret-2"},
        )
    ).json()
    assert (updated["name"], updated["description"], updated["metadata"]) == ("renamed", "d", {"k": "v"})
    assert updated["scopes"] == ["repo"]
    assert stored_secret(client, body["id"])["client_secret"] == "secret-1"


async def test_patch_type_checks_client_fields(client: httpx.AsyncClient) -> None:
    """Declared by the public API, so a wrong type is still a 400 (choices.py: unverified)."""
    body = await new_credentials(client)
    response = await client.patch(f"/provider-auth-credentials/{body['id']}", json={"scopes": "repo"})
    assert response.status_code == 400 and response.json()["code"] == "invalid_data"


async def auth_config(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    deployment = await create(client, "/provider-deployments", {"provider_id": "github"})
    body = {"provider_auth_method_id": "token", "provider_deployment_id": deployment["id"], "value": {"token": "t"}}
    return await create(client, "/provider-auth-configs", {**body, **extra})


async def test_auth_config_credentials_link_is_not_settable(client: httpx.AsyncClient) -> None:
    first, second = await new_credentials(client), await new_credentials(client)
    config = await auth_config(client, provider_auth_credentials_id=first["id"])
    assert config["credentials"] is None
    response = await client.patch(
        f"/provider-auth-configs/{config['id']}", json={"provider_auth_credentials_id": second["id"], "name": "n"}
    )
    assert response.status_code == 200 and response.json()["credentials"] is None and response.json()["name"] == "n"


async def test_delete_archives_credentials_without_cascade(client: httpx.AsyncClient) -> None:
    body = await new_credentials(client)
    config = await auth_config(client)
    deleted = await client.delete(f"/provider-auth-credentials/{body['id']}")
    assert deleted.status_code == 200 and deleted.json()["status"] == "archived"
    assert (await client.get(f"/provider-auth-configs/{config['id']}")).json()["status"] == "active"
    gone = await client.patch(f"/provider-auth-credentials/{body['id']}", json={"name": "x"})
    assert gone.status_code == 410 and gone.json()["code"] == "gone"
