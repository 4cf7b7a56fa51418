"""Issue 22's platform rules, asked of a real `emulator serve` process over HTTP: error codes
(item 3), RateLimit-Reset as an epoch timestamp and a client that still waits right (item 4),
PATCH without trimming (item 6), filters that narrow or are refused (item 8), an auth config's
delete archiving the template providers that use it (item 1), deletes refused for objects an
integration provider uses (item 7)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.apply.conftest import run_cli
from tests.emulator_server import SECRET_KEY, EmulatorProcess

AUTH = {"Authorization": f"Bearer {SECRET_KEY}"}


@pytest.fixture(scope="module")
def _served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess.start(tmp_path_factory.mktemp("serve") / "emulator.sqlite3") as server:
        yield server


@pytest.fixture
def api(_served: EmulatorProcess) -> Iterator[httpx.Client]:
    _served.reset()
    with httpx.Client(base_url=_served.url, headers=AUTH, timeout=10) as client:
        yield client


def made(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def refused(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["code"], body["message"]


def github_pieces(api: httpx.Client) -> tuple[str, str]:
    deployment = made(api, "/provider-deployments", {"provider_id": "github"})["id"]
    auth = made(api, "/provider-auth-configs", {"provider_auth_method_id": "token", "value": {"token": "t"},
                                                "provider_deployment_id": deployment})["id"]
    return deployment, auth


def test_template_provider_errors_are_bad_request(api: httpx.Client) -> None:
    template = made(api, "/session-templates", {"name": "t"})["id"]
    empty = api.post("/session-template-providers", json={"session_template_id": template})
    message = "Please provide at least a provider config, auth config, or deployment"
    assert refused(empty) == (400, "bad_request", message)
    deployment, _ = github_pieces(api)
    slack = made(api, "/provider-configs", {"provider_id": "slack", "value": {"workspace": "w"}})["id"]
    mixed = api.post("/session-template-providers", json={"session_template_id": template,
                                                          "provider_deployment_id": deployment,
                                                          "provider_config_id": slack})
    assert refused(mixed) == (400, "bad_request", "Provider session inputs have mismatched providers")


def test_creation_across_providers_is_provider_mismatch(api: httpx.Client) -> None:
    vault = made(api, "/provider-config-vaults", {"provider_id": "slack", "name": "v", "value": {"workspace": "w"}})
    response = api.post("/provider-configs", json={"provider_id": "github", "provider_config_vault_id": vault["id"]})
    assert refused(response) == (400, "provider_mismatch", "All entities must belong to the same provider")


def test_the_provider_cap_speaks_the_engines_message(api: httpx.Client) -> None:
    deployment, auth = github_pieces(api)
    entry = {"provider_deployment_id": deployment, "provider_auth_config_id": auth}
    response = api.post("/session-templates", json={"name": "t", "providers": [entry] * 101})
    assert refused(response) == (400, "bad_request", "Cannot associate more than 100 providers to a session")


def test_rate_limit_reset_is_an_epoch_timestamp(api: httpx.Client) -> None:
    before = time.time()
    reset = int(api.get("/providers").headers["RateLimit-Reset"])
    assert before + 600 <= reset <= time.time() + 601  # the org window (600 s), as a moment


def test_patch_stores_text_as_sent_and_create_trims(api: httpx.Client) -> None:
    deployment = made(api, "/provider-deployments", {"provider_id": "github", "name": "  made  "})
    assert deployment["name"] == "made"
    patched = api.patch(f"/provider-deployments/{deployment['id']}", json={"name": "  kept  ", "description": " d "})
    assert (patched.json()["name"], patched.json()["description"]) == ("  kept  ", " d ")
    _, auth = github_pieces(api)
    trimmed = api.patch(f"/provider-auth-configs/{auth}", json={"name": "  trimmed  "}).json()
    assert trimmed["name"] == "trimmed"  # updateProviderAuthConfig trims


def test_template_filters_narrow(api: httpx.Client) -> None:
    deployment, auth = github_pieces(api)
    other, other_auth = github_pieces(api)
    mine = made(api, "/session-templates", {"name": "mine", "providers": [
        {"provider_deployment_id": deployment, "provider_auth_config_id": auth}]})
    made(api, "/session-templates", {"name": "theirs", "providers": [
        {"provider_deployment_id": other, "provider_auth_config_id": other_auth}]})
    made(api, "/session-templates", {"name": "empty"})
    for name, value in (("provider_deployment_id", deployment), ("provider_auth_config_id", auth),
                        ("provider_config_id", mine["providers"][0]["config"]["id"])):
        listed = api.get("/session-templates", params={name: value}).json()["items"]
        assert [t["name"] for t in listed] == ["mine"], name
    assert len(api.get("/session-templates", params={"provider_id": "github"}).json()["items"]) == 2


def test_an_unknown_filter_is_refused(api: httpx.Client) -> None:
    made(api, "/session-templates", {"name": "t"})
    response = api.get("/session-templates", params={"provider_deploymentid": "pde_x"})
    assert response.status_code == 400 and response.json()["errors"][0]["path"] == ["provider_deploymentid"]


def test_deployments_by_version_are_the_locked_ones(api: httpx.Client) -> None:
    versions = api.get("/provider-versions", params={"provider_id": "github"}).json()["items"]
    current = next(v["id"] for v in versions if v["is_current"])
    locked = made(api, "/provider-deployments", {"provider_id": "github", "locked_provider_version_id": current})
    made(api, "/provider-deployments", {"provider_id": "github"})  # follows the same version, unlocked
    listed = api.get("/provider-deployments", params={"provider_version_id": current}).json()["items"]
    assert [d["id"] for d in listed] == [locked["id"]]


def test_deleting_an_auth_config_archives_the_template_providers_using_it(api: httpx.Client) -> None:
    deployment, auth = github_pieces(api)
    other, other_auth = github_pieces(api)
    template = made(api, "/session-templates", {"name": "t", "providers": [
        {"provider_deployment_id": deployment, "provider_auth_config_id": auth},
        {"provider_deployment_id": other, "provider_auth_config_id": other_auth}]})
    using = next(p["id"] for p in template["providers"] if p["deployment"]["id"] == deployment)
    assert api.delete(f"/provider-auth-configs/{auth}").status_code == 200
    assert api.get(f"/session-template-providers/{using}").json()["status"] == "archived"
    after = api.get(f"/session-templates/{template['id']}").json()
    assert after["status"] == "active"  # the template stays, with its other provider only
    assert [p["deployment"]["id"] for p in after["providers"]] == [other]
    assert api.get(f"/provider-deployments/{deployment}").json()["status"] == "active"


def test_an_object_an_integration_provider_uses_cannot_be_archived(api: httpx.Client, _served: EmulatorProcess
                                                                   ) -> None:
    deployment, _ = github_pieces(api)
    config = made(api, "/provider-configs", {"provider_id": "github", "provider_deployment_id": deployment,
                                             "value": {}})["id"]
    refusals = {deployment: ("/provider-deployments", "provider_deployment", "Provider deployment"),
                config: ("/provider-configs", "provider_config", "Provider config")}
    for ident, (path, code, what) in refusals.items():
        _served.admin("PUT", "/integration-links", json={"id": ident, "integration_provider_id": "ipr_1"})
        response = api.delete(f"{path}/{ident}")
        message = f"{what} is linked to an active integration provider and cannot be archived directly."
        assert refused(response) == (400, f"{code}_integration_provider_archive_not_allowed", message)
        assert response.json()["data"] == {"id": ident, "integration_provider_id": "ipr_1"}
        assert api.get(f"{path}/{ident}").json()["status"] == "active"
    _served.admin("PUT", "/integration-links", json={"id": config, "integration_provider_id": None})
    assert api.delete(f"/provider-configs/{config}").status_code == 200


STACK = """\
stack: budget
deployments:
{deployments}
"""


def test_the_client_waits_out_an_epoch_reset(tmp_path: Path) -> None:
    """A plan through a 6-per-2-s window: the client reads the epoch Reset and goes on (read as
    seconds it would wait ~56 years, past any wait budget, and fail)."""
    stack = tmp_path / "stack.yaml"
    stack.write_text(STACK.format(deployments="\n".join(f"  d{i}: {{provider: github}}" for i in range(3))))
    with EmulatorProcess.start(tmp_path / "budget.sqlite3", "--rate-limit", "6/2") as server:
        started = time.monotonic()
        result = run_cli(["plan", str(stack), "--detailed-exitcode"],
                         env={"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY})
        elapsed = time.monotonic() - started
        calls = server.stats()["total_calls"]
    assert result.code == 2, result.out + result.err
    assert calls > 6 and elapsed < 60  # past one window's worth, in a few windows' time
