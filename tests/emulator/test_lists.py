"""Lists: envelope, limit/order, after/before/cursor across pages, common and kind filters."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest

from .conftest import create

pytestmark = pytest.mark.anyio


async def make_templates(client: httpx.AsyncClient, count: int, **extra: object) -> list[str]:
    ids = []
    for index in range(count):
        body = await create(client, "/session-templates", {"name": f"tpl-{index:02d}", **extra})
        ids.append(body["id"])
    return ids


async def page(client: httpx.AsyncClient, **params: object) -> dict:
    response = await client.get("/session-templates", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_envelope_and_default_limit(client: httpx.AsyncClient) -> None:
    ids = await make_templates(client, 25)
    body = await page(client)
    assert set(body) == {"object", "items", "pagination"}
    assert body["object"] == "list" and len(body["items"]) == 20
    assert body["pagination"] == {"has_more_before": False, "has_more_after": True}
    assert [i["id"] for i in body["items"]] == ids[:20]
    assert ids == sorted(ids)  # ids sort in creation order


async def test_forward_and_backward_across_three_pages_asc(client: httpx.AsyncClient) -> None:
    ids = await make_templates(client, 7)
    first = await page(client, limit=3)
    second = await page(client, limit=3, after=first["items"][-1]["id"])
    third = await page(client, limit=3, after=second["items"][-1]["id"])
    assert [i["id"] for p in (first, second, third) for i in p["items"]] == ids
    assert first["pagination"] == {"has_more_before": False, "has_more_after": True}
    assert second["pagination"] == {"has_more_before": True, "has_more_after": True}
    assert third["pagination"] == {"has_more_before": True, "has_more_after": False}
    back = await page(client, limit=3, before=third["items"][0]["id"])
    assert [i["id"] for i in back["items"]] == ids[3:6]
    assert back["pagination"] == {"has_more_before": True, "has_more_after": True}
    start = await page(client, limit=3, before=ids[3])
    assert [i["id"] for i in start["items"]] == ids[:3]
    assert start["pagination"] == {"has_more_before": False, "has_more_after": True}


async def test_desc_pages(client: httpx.AsyncClient) -> None:
    ids = await make_templates(client, 7)
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 3, "order": "desc", **({"after": after} if after else {})}
        body = await page(client, **params)
        seen += [i["id"] for i in body["items"]]
        pages += 1
        if not body["pagination"]["has_more_after"]:
            break
        after = body["items"][-1]["id"]
    assert pages == 3 and seen == list(reversed(ids))
    back = await page(client, limit=2, order="desc", before=ids[2])
    assert [i["id"] for i in back["items"]] == [ids[4], ids[3]]
    assert back["pagination"] == {"has_more_before": True, "has_more_after": True}


async def test_desc_after_continues_downwards_and_says_when_nothing_is_left(client: httpx.AsyncClient) -> None:
    """lowerdeck's Prisma paginator (choices.py, Pagination): `after` with `desc` is the ids below
    it, and a page that ends the list exactly says so, as a list read from both ends relies on."""
    ids = await make_templates(client, 6)
    first = await page(client, limit=3, order="desc")
    second = await page(client, limit=3, order="desc", after=first["items"][-1]["id"])
    assert [i["id"] for i in first["items"] + second["items"]] == ids[::-1]
    assert first["pagination"]["has_more_after"] and not second["pagination"]["has_more_after"]
    assert second["pagination"]["has_more_before"]


async def test_cursor_pagination(client: httpx.AsyncClient) -> None:
    ids = await make_templates(client, 7)
    cursor = "cur_" + base64.urlsafe_b64encode(f"a:{ids[2]}".encode()).decode().rstrip("=")
    body = await page(client, limit=3, cursor=cursor)
    assert [i["id"] for i in body["items"]] == ids[3:6]
    back = "cur_" + base64.urlsafe_b64encode(f"b:{ids[3]}".encode()).decode().rstrip("=")
    assert [i["id"] for i in (await page(client, limit=3, cursor=back))["items"]] == ids[:3]


@pytest.mark.parametrize("cursor", ["nope", "cur_", "cur_!!!", "cur_" + base64.urlsafe_b64encode(b"x:1").decode()])
async def test_malformed_cursor_is_400(client: httpx.AsyncClient, cursor: str) -> None:
    response = await client.get("/session-templates", params={"cursor": cursor})
    assert response.status_code == 400 and response.json()["code"] == "invalid_data"


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"order": "up"},
        {"after": "a", "before": "b"},
        {"status": "deleted"},
        {"created_at[gt]": "yesterday"},
    ],
)
async def test_bad_list_parameters_are_invalid_data(client: httpx.AsyncClient, params: dict) -> None:
    response = await client.get("/session-templates", params=params)
    body = response.json()
    assert response.status_code == 400 and body["code"] == "invalid_data" and body["entity"] == "query"
    assert body["errors"][0]["path"]


async def test_limit_bounds_accepted(client: httpx.AsyncClient) -> None:
    await make_templates(client, 2)
    assert len((await page(client, limit=1))["items"]) == 1
    assert len((await page(client, limit=100))["items"]) == 2


async def test_id_status_and_search_filters(client: httpx.AsyncClient) -> None:
    ids = await make_templates(client, 4)
    await client.patch(f"/session-templates/{ids[1]}", json={"description": "The SUPPORT bot"})
    await client.delete(f"/session-templates/{ids[3]}")
    assert [i["id"] for i in (await page(client, **{"id[]": [ids[0], ids[2]]}))["items"]] == [ids[0], ids[2]]
    assert [i["id"] for i in (await page(client, id=ids[2]))["items"]] == [ids[2]]
    assert [i["id"] for i in (await page(client))["items"]] == ids[:3]  # archived excluded by default
    assert [i["id"] for i in (await page(client, status="archived"))["items"]] == [ids[3]]
    both = await page(client, **{"status[]": ["active", "archived"]})
    assert [i["id"] for i in both["items"]] == ids
    assert [i["id"] for i in (await page(client, search="support"))["items"]] == [ids[1]]
    assert [i["id"] for i in (await page(client, search="TPL-02"))["items"]] == [ids[2]]
    assert (await page(client, search="%"))["items"] == []


async def test_timestamp_filters(client: httpx.AsyncClient) -> None:
    first = await make_templates(client, 1)
    await asyncio.sleep(0.01)
    later = await make_templates(client, 1)
    created = (await client.get(f"/session-templates/{later[0]}")).json()["created_at"]
    assert [i["id"] for i in (await page(client, **{"created_at[lt]": created}))["items"]] == first
    after = (await page(client, **{"created_at[gt]": "2000-01-01T00:00:00Z"}))["items"]
    assert len(after) == 2
    await asyncio.sleep(0.01)
    await client.patch(f"/session-templates/{first[0]}", json={"name": "renamed"})
    updated = (await client.get(f"/session-templates/{first[0]}")).json()["updated_at"]
    assert [i["id"] for i in (await page(client, **{"updated_at[gt]": created}))["items"]] == first
    assert [i["id"] for i in (await page(client, **{"updated_at[lt]": updated}))["items"]] == later


async def test_kind_filters_for_deployments(client: httpx.AsyncClient) -> None:
    github = await create(client, "/provider-deployments", {"provider_id": "github"})
    versions = (await client.get("/provider-versions", params={"provider_id": "github"})).json()["items"]
    old = next(v for v in versions if not v["is_current"])
    locked = await create(
        client, "/provider-deployments", {"provider_id": "github", "locked_provider_version_id": old["id"]}
    )
    by_provider = (await client.get("/provider-deployments", params={"provider_id": "github"})).json()["items"]
    assert {d["id"] for d in by_provider} >= {github["id"], locked["id"]}
    assert all(d["provider_id"] == github["provider_id"] for d in by_provider)
    by_version = (await client.get("/provider-deployments", params={"provider_version_id": old["id"]})).json()["items"]
    assert [d["id"] for d in by_version] == [locked["id"]]
    unknown = (await client.get("/provider-deployments", params={"provider_id": "nope"})).json()
    assert unknown["items"] == []


async def test_many_objects_list_fast_enough(client: httpx.AsyncClient) -> None:
    emulator = client.app.state.emulator  # type: ignore[attr-defined]
    with emulator.store.transaction():
        from metorial_apply.emulator.writes import new_record
        for index in range(2000):
            emulator.store.save(new_record(emulator, "session_template", {"name": f"bulk {index}"}, {}))
    seen, after = 0, None
    while True:
        body = await page(client, limit=100, **({"after": after} if after else {}))
        seen += len(body["items"])
        if not body["pagination"]["has_more_after"]:
            break
        after = body["items"][-1]["id"]
    assert seen == 2000
