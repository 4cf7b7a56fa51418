"""Lists: every page at limit=100, following `after=<last id>` while has_more_after."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from metorial_apply.core import errors
from tests.client.conftest import page

pytestmark = pytest.mark.anyio

PATH = "/provider-configs"


def items(start: int, count: int) -> list[dict[str, Any]]:
    return [{"id": f"pcf_{i:05d}"} for i in range(start, start + count)]


def queries(route: respx.Route) -> list[dict[str, str]]:
    return [dict(call.request.url.params) for call in route.calls]


async def test_empty_list_is_one_call(api: respx.MockRouter, make_client: Any) -> None:
    route = api.get(PATH).mock(return_value=page([], False))
    async with make_client() as client:
        assert await client.list_all(PATH, kind="config") == []
        assert client.stats.pages == 1
    assert queries(route) == [{"limit": "100"}]


async def test_single_page(api: respx.MockRouter, make_client: Any) -> None:
    route = api.get(PATH).mock(return_value=page(items(0, 37), False))
    async with make_client() as client:
        assert len(await client.list_all(PATH)) == 37
    assert route.call_count == 1


async def test_pages_follow_the_last_id_and_keep_filters(api: respx.MockRouter, make_client: Any) -> None:
    route = api.get(PATH).mock(side_effect=[page(items(0, 100), True), page(items(100, 100), True),
                                            page(items(200, 5), False)])
    async with make_client() as client:
        got = await client.list_all(PATH, {"provider_id": "pro_1"}, kind="config")
        assert client.stats.pages == 3
    assert [i["id"] for i in got] == [f"pcf_{i:05d}" for i in range(205)]
    assert queries(route) == [
        {"provider_id": "pro_1", "limit": "100"},
        {"provider_id": "pro_1", "limit": "100", "after": "pcf_00099"},
        {"provider_id": "pro_1", "limit": "100", "after": "pcf_00199"},
    ]


async def test_exact_multiple_of_page_size(api: respx.MockRouter, make_client: Any) -> None:
    route = api.get(PATH).mock(side_effect=[page(items(0, 100), True), page(items(100, 100), False)])
    async with make_client() as client:
        assert len(await client.list_all(PATH)) == 200
    assert route.call_count == 2


async def test_exact_multiple_with_a_trailing_empty_page(api: respx.MockRouter, make_client: Any) -> None:
    route = api.get(PATH).mock(side_effect=[page(items(0, 100), True), page([], True)])
    async with make_client() as client:
        assert len(await client.list_all(PATH)) == 100
    assert route.call_count == 2  # an empty page ends the list even if it claims more


async def test_a_cursor_that_does_not_advance_is_an_error(api: respx.MockRouter, make_client: Any) -> None:
    route = api.get(PATH).mock(return_value=page(items(0, 100), True))
    async with make_client() as client:
        with pytest.raises(errors.ApiError) as caught:
            await client.list_all(PATH)
    assert caught.value.code == "invalid_response"
    assert route.call_count == 2


async def test_list_many_lists_concurrently(api: respx.MockRouter, make_client: Any) -> None:
    api.get("/a").mock(return_value=page(items(0, 2), False))
    api.get("/b").mock(side_effect=[page(items(0, 100), True), page(items(100, 1), False)])
    async with make_client() as client:
        got = await client.list_many({"/a": "deployment", "/b": "config"})
        assert client.stats.by_kind == {"deployment": 1, "config": 2}
    assert {k: len(v) for k, v in got.items()} == {"/a": 2, "/b": 101}


async def test_get_quotes_the_id(api: respx.MockRouter, make_client: Any) -> None:
    route = api.get(url__regex=r".*/provider-configs/a%2Fb$").mock(return_value=httpx.Response(200, json={"id": "a/b"}))
    async with make_client() as client:
        assert await client.get(PATH, "a/b") == {"id": "a/b"}
    assert route.call_count == 1
