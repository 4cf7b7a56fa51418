"""Transport rules: keys, error bodies, headers, content types."""

from __future__ import annotations

import time

import httpx
import pytest

from metorial_apply.emulator import EmulatorSettings

from .conftest import PK, SK, emulator_client

pytestmark = pytest.mark.anyio


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["object"] == "error" and body["ok"] is False
    assert body["status"] == status and body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


async def test_missing_header_is_401(client: httpx.AsyncClient) -> None:
    async with emulator_client(headers={}) as bare:
        response = await bare.get("/provider-deployments")
    body = assert_error(response, 401, "unauthorized")
    assert body["message"] == "Missing Authorization header"
    assert "RateLimit-Limit" not in response.headers  # counted after authentication only
    empty = await client.get("/provider-deployments", headers={"Authorization": ""})
    assert assert_error(empty, 401, "unauthorized")["message"] == "Malformed Authorization header"


@pytest.mark.parametrize(
    "header",
    [
        "Basic abc",
        "bearer metorial_sk_local_emulator_secret_key",
        "Bearer  metorial_sk_x",
        "Bearer",
        "Bearer not-a-key",
        "Token metorial_sk_x",
    ],
)
async def test_malformed_header_is_401(client: httpx.AsyncClient, header: str) -> None:
    body = assert_error(await client.get("/providers", headers={"Authorization": header}), 401, "unauthorized")
    assert body["message"] == "Malformed Authorization header"


async def test_unknown_key_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/providers", headers={"Authorization": "Bearer metorial_sk_unknown"})
    assert assert_error(response, 401, "unauthorized")["message"] == "Invalid API key"


@pytest.mark.parametrize(
    "path",
    [
        "/provider-deployments",
        "/provider-configs",
        "/provider-config-vaults",
        "/provider-auth-configs",
        "/provider-auth-credentials",
        "/session-templates",
        "/session-template-providers",
    ],
)
async def test_publishable_key_cannot_read_or_write_managed_kinds(client: httpx.AsyncClient, path: str) -> None:
    assert_error(await client.get(path, headers=PK), 403, "forbidden")
    assert_error(await client.post(path, json={"name": "x"}, headers=PK), 403, "forbidden")
    assert_error(await client.get(f"{path}/x_123", headers=PK), 403, "forbidden")


@pytest.mark.parametrize("path", ["/providers", "/provider-versions", "/provider-specifications"])
async def test_publishable_key_reads_the_catalog(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers=PK)
    assert response.status_code == 200 and response.json()["object"] == "list"


async def test_publishable_config_schema_by_provider_but_not_by_deployment(client: httpx.AsyncClient) -> None:
    ok = await client.get("/provider-config-schema", params={"provider_id": "github"}, headers=PK)
    assert ok.status_code == 200
    deployments = (await client.get("/provider-deployments")).json()["items"]
    denied = await client.get(
        "/provider-config-schema", params={"provider_deployment_id": deployments[0]["id"]}, headers=PK
    )
    assert_error(denied, 403, "forbidden")


async def test_custom_keys_replace_defaults() -> None:
    settings = EmulatorSettings(secret_keys=("metorial_sk_custom",), publishable_keys=())
    async with emulator_client(settings, headers={"Authorization": "Bearer metorial_sk_custom"}) as client:
        assert (await client.get("/provider-deployments")).status_code == 200
        assert (await client.get("/providers", headers=SK)).status_code == 401


async def test_response_headers(client: httpx.AsyncClient) -> None:
    sent = time.time()
    response = await client.get("/providers", headers={"Metorial-Version": "2099-01-01"})
    assert response.status_code == 200
    assert response.headers["metorial-version"] == "2099-01-01"
    assert response.headers["metorial-req-id"].startswith("req_")
    assert response.headers["RateLimit-Limit"] == "5000"
    assert response.headers["RateLimit-Remaining"] == "4999"
    # An epoch timestamp (choices.RATE_LIMIT_RESET_EPOCH): when the only request in the window leaves it
    assert sent + 600 <= int(response.headers["RateLimit-Reset"]) <= time.time() + 601
    assert "Retry-After" not in response.headers
    again = await client.get("/providers")
    assert again.headers["metorial-req-id"] != response.headers["metorial-req-id"]
    assert again.headers["RateLimit-Remaining"] == "4998"
    error = await client.get("/provider-deployments/pde_missing")
    assert error.status_code == 404 and error.headers["RateLimit-Remaining"] == "4997"


async def test_non_json_content_type_is_bad_request(client: httpx.AsyncClient) -> None:
    response = await client.post("/session-templates", content=b"name: x", headers={"Content-Type": "text/yaml"})
    assert_error(response, 400, "bad_request")


async def test_bad_json_is_bad_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/session-templates", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "bad_request")


async def test_json_that_is_not_an_object_is_invalid_data(client: httpx.AsyncClient) -> None:
    response = await client.post("/session-templates", json=["name"])
    body = assert_error(response, 400, "invalid_data")
    assert body["entity"] == "body" and body["errors"][0]["path"] == []


async def test_form_bodies_are_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/session-templates", data={"name": "from a form"})
    assert response.status_code == 200 and response.json()["name"] == "from a form"


async def test_unknown_route_and_method_are_404(client: httpx.AsyncClient) -> None:
    body = assert_error(await client.get("/nothing-here"), 404, "not_found")
    assert body["entity"] == "endpoint"
    assert_error(await client.put("/provider-deployments"), 404, "not_found")
    assert_error(await client.delete("/providers/pro_x"), 404, "not_found")


async def test_not_found_names_entity_and_id(client: httpx.AsyncClient) -> None:
    body = assert_error(await client.get("/provider-configs/pcf_nope"), 404, "not_found")
    assert body["entity"] == "provider.config" and body["id"] == "pcf_nope"
    # an id of another kind is not found under this path
    deployments = (await client.get("/provider-deployments")).json()["items"]
    assert_error(await client.get(f"/provider-configs/{deployments[0]['id']}"), 404, "not_found")
