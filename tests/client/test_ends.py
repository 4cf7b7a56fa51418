"""A list read from both ends at once (api/ends.py), against the in-process emulator and against
servers that do not honour `order=desc`: the same objects as one walk from the start, in the same
order, the calls within one of today's minimum (two in the one unavoidable case), and about
half the pages in a row."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import respx

from metorial_apply.api.catalog import fetch_catalog
from metorial_apply.api.client import MetorialClient, open_client
from metorial_apply.api.ratelimit import RateLimitSettings
from metorial_apply.emulator import DEFAULT_SECRET_KEY, EmulatorSettings, asgi_transport, create_app
from metorial_apply.emulator.writes import new_record
from tests.client.conftest import page

pytestmark = pytest.mark.anyio
PATH = "/session-templates"
KIND = "session_template"
PLENTY = RateLimitSettings(count=10_000_000, window_s=600)
Meddle = Callable[[httpx.AsyncClient], Awaitable[None]]  # runs before each list request reaches the emulator


class Meddling(httpx.AsyncBaseTransport):
    """The emulator, with `meddle` run (through a client of its own, not counted) before each page."""

    def __init__(self, inner: httpx.AsyncBaseTransport, meddle: Meddle | None) -> None:
        self.inner, self.meddle = inner, meddle
        self.side = httpx.AsyncClient(transport=inner, base_url="http://emulator",
                                      headers={"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"})

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.meddle is not None and request.method == "GET" and request.url.path == PATH:
            await self.meddle(self.side)
        return await self.inner.handle_async_request(request)


@asynccontextmanager
async def emulator(n: int, meddle: Meddle | None = None, lag_ms: float = 0) -> AsyncIterator[MetorialClient]:
    """A client into a fresh emulator holding `n` session templates (written at once, not posted);
    with `lag_ms`, each object created from then on stays out of lists for its own share of it."""
    app = create_app(EmulatorSettings())
    em = app.state.emulator
    with em.store.transaction():
        for index in range(n):
            em.store.save(new_record(em, KIND, {"name": f"t{index}"}, {}))
    if lag_ms:
        await asyncio.sleep(lag_ms / 1000)  # the seeded objects are past their lag before the read
        em.faults.configure({"list_lag_jitter_ms": lag_ms})
    transport = Meddling(asgi_transport(app), meddle)
    try:
        async with open_client("https://emulator.test", DEFAULT_SECRET_KEY, transport=transport,
                               rate_limit=PLENTY) as client:
            yield client
    finally:
        await transport.side.aclose()
        em.close()


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def minimum(n: int) -> int:
    return max(1, math.ceil(n / 100))


@pytest.mark.parametrize("n", [0, 1, 100, 101, 150, 199, 200, 201, 299, 300, 301, 500, 999, 1000, 1234, 2000])
async def test_both_ends_list_what_one_walk_lists_in_about_half_the_pages_in_a_row(n: int) -> None:
    async with emulator(n) as client:
        one = await client.list_all(PATH, kind="one")
        before = client.stats.calls
        both = await client.list_ends(PATH, kind=KIND)
        calls = client.stats.calls - before
    assert ids(both) == ids(one) and len(set(ids(both))) == n  # the same objects, once each, in order
    chain = client.stats.chains[KIND]
    assert client.stats.chains["one"] == minimum(n)  # one walk: every page in a row
    if n <= 100:
        assert (calls, chain) == (1, 1)  # one page: one call, as before
        return
    # The first page alone, then rounds of two pages; round d meets when less than two pages lie between.
    assert chain == (n + 100) // 200 + 1 <= math.ceil(n / 200) + 1
    assert calls == 2 * chain - 1
    # One call more than today's minimum at most, but two when the walks' last ids turn out to be
    # neighbours (n = 100 · odd): both next pages only prove it, and no reader with two pages in
    # flight can tell that before asking.
    assert calls <= minimum(n) + (2 if n % 200 == 100 else 1)


async def test_one_page_is_one_call_without_order() -> None:
    async with emulator(42) as client:
        await client.list_ends(PATH, kind=KIND)
        assert client.stats.calls == 1 and client.stats.chains == {KIND: 1}


def churn(seed: int, created: list[str], archived: list[str]) -> Meddle:
    """Before each page: archive two active templates (from anywhere, so from where the walks
    meet too) and create one (which, under the list-lag fault, shows up in lists a little later,
    wherever the walks then are); what it did is recorded."""
    rng = random.Random(seed)

    async def meddle(side: httpx.AsyncClient) -> None:
        active = [t["id"] for t in (await side.get(PATH, params={"limit": 100, "order": rng.choice(["asc", "desc"])}))
                  .json()["items"]]
        for id in rng.sample(active, 2):
            (await side.delete(f"{PATH}/{id}")).raise_for_status()
            archived.append(id)
        made = await side.post(PATH, json={"name": "new"})
        created.append(made.json()["id"])
    return meddle


@pytest.mark.parametrize("seed", range(8))
async def test_objects_created_and_archived_during_the_read_lose_and_double_nothing(seed: int) -> None:
    created: list[str] = []
    archived: list[str] = []
    async with emulator(1200, churn(seed, created, archived), lag_ms=20 if seed % 2 else 0) as client:
        existing = await client.list_all(PATH, kind="before")
        before = client.stats.calls
        both = ids(await client.list_ends(PATH, kind=KIND))
        calls = client.stats.calls - before
    throughout = set(ids(existing)) - set(archived)
    assert len(both) == len(set(both))  # nothing twice
    assert throughout <= set(both)  # nothing that existed throughout is lost
    assert set(both) <= set(ids(existing)) | set(created)  # nothing made up
    assert both == sorted(both)  # in the list's order, as one walk gives it
    assert calls <= minimum(len(existing)) + 2  # two archives a page shrink the list, never grow the calls


def server(count: int, honour_desc: Callable[[dict[str, str]], bool], size: int = 100) -> Callable[..., Any]:
    """A list of `count` ids whose pages honour `order=desc` only when `honour_desc(query)`;
    otherwise the page is the ascending one after `after`."""
    all_ids = [f"set_{i:05d}" for i in range(count)]

    def answer(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        after, desc = query.get("after"), query.get("order") == "desc" and honour_desc(query)
        order = all_ids[::-1] if desc else all_ids
        start = order.index(after) + 1 if after else 0
        items = [{"id": i} for i in order[start:start + size]]
        return page(items, start + size < count)
    return answer


CASES = {
    "ignores order": lambda query: False,
    "ignores order past the first page": lambda query: "after" not in query,
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("n", [150, 350, 1000])
async def test_a_server_that_does_not_honour_desc_is_read_from_the_start_alone(
        api: respx.MockRouter, make_client: Any, case: str, n: int) -> None:
    route = api.get(PATH).mock(side_effect=server(n, CASES[case]))
    async with make_client() as client:
        got = ids(await client.list_ends(PATH, kind=KIND))
    assert got == [f"set_{i:05d}" for i in range(n)]  # nothing lost, nothing twice
    descending = [c for c in route.calls if c.request.url.params.get("order") == "desc"]
    assert len(descending) <= 2  # the down walk is dropped at once, not followed
    assert route.call_count <= minimum(n) + 2


async def test_pages_of_one_that_ignore_desc_are_not_taken_for_a_meeting(api: respx.MockRouter,
                                                                          make_client: Any) -> None:
    """The down walk's first page is the up walk's first page again: one id, no order to judge."""
    api.get(PATH).mock(side_effect=server(5, lambda query: False, size=1))
    async with make_client() as client:
        got = ids(await client.list_ends(PATH, kind=KIND))
    assert got == [f"set_{i:05d}" for i in range(5)]


@pytest.mark.parametrize("seed", range(4))
async def test_a_desc_order_that_is_not_the_reverse_of_asc_is_not_trusted(api: respx.MockRouter, make_client: Any,
                                                                          seed: int) -> None:
    """A server whose `desc` sorts by something else (its creation times, say): its first page
    holds ids of the up walk's first page, out of the up walk's order. Taken for a meeting, the
    read would end there with most objects never seen."""
    count = 1000
    all_ids = [f"set_{i:05d}" for i in range(count)]
    shuffled = random.Random(seed).sample(all_ids, count)
    honest = server(count, lambda query: True)

    def answer(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        if query.get("order") != "desc":
            return honest(request)
        start = shuffled.index(query["after"]) + 1 if "after" in query else 0
        return page([{"id": i} for i in shuffled[start:start + 100]], start + 100 < count)
    api.get(PATH).mock(side_effect=answer)
    async with make_client() as client:
        got = ids(await client.list_ends(PATH, kind=KIND))
    assert got == all_ids


async def test_a_down_walk_that_reaches_the_start_without_meeting_is_dropped(api: respx.MockRouter,
                                                                              make_client: Any) -> None:
    """A down page that says it is the last, short of the up walk's pages: not believed."""
    honest = server(400, lambda query: True)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("order") == "desc":
            return page([{"id": "set_00399"}], False)
        return honest(request)
    api.get(PATH).mock(side_effect=answer)
    async with make_client() as client:
        got = ids(await client.list_ends(PATH, kind=KIND))
    assert got == [f"set_{i:05d}" for i in range(400)]


async def test_queries_keep_the_filters_and_the_up_walk_sends_no_order(api: respx.MockRouter,
                                                                       make_client: Any) -> None:
    route = api.get(PATH).mock(side_effect=server(450, lambda query: True))
    async with make_client() as client:
        assert len(await client.list_ends(PATH, {"provider_id": "pro_1"}, kind=KIND)) == 450
    queries = sorted((dict(c.request.url.params) for c in route.calls), key=lambda q: sorted(q.items()))
    assert queries == sorted([
        {"provider_id": "pro_1", "limit": "100"},
        {"provider_id": "pro_1", "limit": "100", "after": "set_00099"},
        {"provider_id": "pro_1", "limit": "100", "order": "desc"},
        {"provider_id": "pro_1", "limit": "100", "after": "set_00199"},
        {"provider_id": "pro_1", "limit": "100", "order": "desc", "after": "set_00350"},
    ], key=lambda q: sorted(q.items()))


async def test_the_catalogs_provider_list_is_read_from_both_ends(api: respx.MockRouter, make_client: Any) -> None:
    count = 450
    honest = server(count, lambda query: True)

    def providers(request: httpx.Request) -> httpx.Response:
        body = honest(request).json()
        body["items"] = [{"id": i["id"], "slug": f"p{i['id'][-5:]}"} for i in body["items"]]
        return httpx.Response(200, json=body)
    route = api.get("/providers").mock(side_effect=providers)
    async with make_client() as client:
        catalog = await fetch_catalog(client, detail_for=set())
        assert client.stats.chains["/providers"] == 3  # walked from the start alone: 5
    assert sorted(p.id for p in catalog.providers) == [f"set_{i:05d}" for i in range(count)]
    assert route.call_count == 5


async def test_pages_longer_than_asked_for_are_read_from_the_start_alone(api: respx.MockRouter,
                                                                          make_client: Any) -> None:
    """A server that ignores `limit` (a hostile one's endless pages) gets no down walk: the ids of
    pages of any size would be held to find a meeting."""
    route = api.get(PATH).mock(side_effect=server(450, lambda query: True, size=150))
    async with make_client() as client:
        got = ids(await client.list_ends(PATH, kind=KIND))
    assert got == [f"set_{i:05d}" for i in range(450)]
    assert [c.request.url.params.get("order") for c in route.calls] == [None] * 3
