"""The client against the real emulator, in-process (`api_url="local"`), state kept in state_dir."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from metorial_apply.api.catalog import fetch_catalog
from metorial_apply.api.client import open_client
from metorial_apply.api.ratelimit import RateLimitSettings
from metorial_apply.api.retry import RetryPolicy
from metorial_apply.core import errors
from metorial_apply.core.kinds import KINDS
from metorial_apply.emulator import DEFAULT_PUBLISHABLE_KEY, EmulatorSettings, asgi_transport, create_app

pytestmark = pytest.mark.anyio

PATH = KINDS["deployment"].path
CANARY = "canary-l0cal-93e1"


async def test_deployment_lifecycle_and_persistence(tmp_path: Path) -> None:
    state = tmp_path / ".metorial-apply"
    stamp = {"metorial-apply/stack": "test", "metorial-apply/address": "deployment.gh",
             "metorial-apply/spec-hash": "sha256:0"}
    async with open_client("local", None, state_dir=state) as client:
        assert client.base_url == "local"
        before = await client.list_all(PATH, kind="deployment")
        created = await client.create(PATH, {"provider_id": "github", "name": "gh", "metadata": stamp},
                                      kind="deployment", name="gh", stamp=stamp)
        assert created["metadata"] == stamp
        fetched = await client.get(PATH, created["id"], kind="deployment", name="gh")
        assert fetched["id"] == created["id"]
        updated = await client.update(PATH, created["id"], {"description": "tools", "metadata": stamp},
                                      kind="deployment", name="gh")
        assert updated["description"] == "tools"
    assert (state / "emulator.sqlite3").is_file()

    async with open_client("local", None, state_dir=state) as client:
        listed = await client.list_all(PATH, kind="deployment")
        assert len(listed) == len(before) + 1
        ours = next(d for d in listed if d["id"] == created["id"])
        assert ours["description"] == "tools"
        deleted = await client.delete(PATH, created["id"], kind="deployment", name="gh")
        assert deleted["status"] == "archived"
        with pytest.raises(errors.GoneError):
            await client.delete(PATH, created["id"], kind="deployment", name="gh")
        assert len(await client.list_all(PATH, kind="deployment")) == len(before)


async def test_pagination_over_many_objects(tmp_path: Path) -> None:
    async with open_client("local", None, state_dir=tmp_path) as client:
        base = len(await client.list_all(PATH))
        for i in range(230):
            await client.create(PATH, {"provider_id": "slack", "name": f"d{i}", "metadata": {}},
                                kind="deployment", name=f"d{i}", stamp={})
        pages_before = client.stats.pages
        listed = await client.list_all(PATH)
        assert len(listed) == base + 230
        assert len({d["id"] for d in listed}) == len(listed)
        assert client.stats.pages - pages_before == -(-(base + 230) // 100)


async def test_emulator_rejection_is_typed_and_never_echoes_the_value(tmp_path: Path) -> None:
    async with open_client("local", None, state_dir=tmp_path) as client:
        with pytest.raises(errors.BadRequestError) as caught:
            await client.create("/provider-configs", {"provider_id": "github", "value": {"bogus": CANARY}},
                                kind="config", name="c", stamp={})
    assert caught.value.status == 400 and caught.value.call.request_id
    assert CANARY not in str(caught.value)


async def test_publishable_key_reads_catalog_but_not_deployments(tmp_path: Path) -> None:
    async with open_client("local", DEFAULT_PUBLISHABLE_KEY, state_dir=tmp_path) as client:
        assert await client.list_all("/providers")
        with pytest.raises(errors.ForbiddenError):
            await client.list_all(PATH, kind="deployment")
        with pytest.raises(errors.ApiKeyError):
            client.require_secret_key()


async def test_fetch_catalog_from_the_emulator(tmp_path: Path) -> None:
    async with open_client("local", None) as client:
        catalog = await fetch_catalog(client)
        providers = client.stats.by_kind["/providers"]
        assert client.stats.calls == providers + 2 * len(catalog.providers)
    github = catalog.find("github")
    assert github is not None and catalog.find(github.id) == catalog.find(github.identifier) == github
    assert catalog.slugs() == sorted(catalog.slugs())
    assert github.current_version_id in github.versions.values()
    assert {"oauth", "token"} <= set(github.auth_methods)
    assert all(v.startswith("pam_") for v in github.auth_methods.values())
    assert github.config_schema and github.config_schema.get("type") == "object"


async def test_fetch_catalog_detail_only_for_named_providers() -> None:
    async with open_client("local", None) as client:
        catalog = await fetch_catalog(client, detail_for={"slack"})
        assert client.stats.calls == 3
    slack, github = catalog.find("slack"), catalog.find("github")
    assert slack and slack.auth_methods and slack.versions
    assert github and not github.auth_methods and not github.versions and github.current_version_id


@pytest.mark.parametrize("ours", [RateLimitSettings(count=20, window_s=0.5), None], ids=["configured", "learned"])
async def test_limiter_matched_to_the_server_gets_no_429_at_near_full_speed(ours: RateLimitSettings | None) -> None:
    count, window, n = 20, 0.5, 60
    if ours is None:  # learned from headers: the emulator's Reset is whole seconds, so use a 1 s window
        count, window, n = 25, 1.0, 75
    app = create_app(EmulatorSettings(rate_limit_count=count, rate_limit_window_seconds=window))
    started = time.monotonic()
    async with open_client("local", None, transport=asgi_transport(app), rate_limit=ours,
                           retry=RetryPolicy(max_attempts=1)) as client:
        await asyncio.gather(*(client.read("/providers") for _ in range(n)))
        assert client.stats.rate_limited == 0
    elapsed = time.monotonic() - started
    ideal = (n / count - 1) * window
    # Learned from headers, each wait ends at a RateLimit-Reset in whole epoch seconds (rounded
    # up, as the platform sends it): up to 1 s more per wait than the window needs.
    grain = (n / count - 1) * 1.0 if ours is None else 0.0
    assert ideal <= elapsed < ideal * 1.5 + grain + 0.5  # loose: CI machines are noisy
