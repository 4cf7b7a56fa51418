"""What a live read holds while it lists (issue 21: peak memory against a hostile server), at
the client: lists that fail together stop together, a list stopped by its budget keeps no
parsed page, bodies past 1 MiB are read a few at a time, and an id too long to send back as a
cursor is an answer, not a crash. The peak itself is measured through the CLI in
test_hostile_memory.py."""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from metorial_apply.api.client import LARGE_BODIES
from metorial_apply.api.ends import MAX_CURSOR
from metorial_apply.api.keep import Keeper
from metorial_apply.api.limits import ListingTooLargeError, RequestLimits
from metorial_apply.api.responses import LARGE_BODY
from metorial_apply.core.errors import ApiError
from metorial_apply.core.kinds import METORIAL_KINDS

pytestmark = pytest.mark.anyio
PATHS = {k.path: k.kind for k in METORIAL_KINDS.values()}
CHUNK = 64 * 1024


def page(items: list[dict[str, Any]], more: bool = True) -> bytes:
    return json.dumps({"items": items, "pagination": {"has_more_after": more}}).encode()


class Paced(httpx.AsyncByteStream):
    """A body in 64 KiB chunks, yielding to the loop between them; `busy` counts the bodies being
    read past LARGE_BODY (plus a chunk) at once, `most` the highest count seen."""

    busy = 0
    most = 0

    def __init__(self, body: bytes, every_s: float = 0.0) -> None:
        self.body, self.every_s, self.sent = body, every_s, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        large = False
        for start in range(0, len(self.body), CHUNK):
            await asyncio.sleep(self.every_s)
            if start > LARGE_BODY + CHUNK and not large:  # the reader is past its gate
                large, Paced.busy = True, Paced.busy + 1
                Paced.most = max(Paced.most, Paced.busy)
            self.sent = start + len(self.body[start:start + CHUNK])
            yield self.body[start:start + CHUNK]
        Paced.busy -= large


async def test_when_one_list_fails_the_others_stop_reading(api: respx.MockRouter, make_client: Any) -> None:
    slow = Paced(page([{"id": f"pcf_{i}", "description": "d" * 1000} for i in range(600)]), 0.05)  # 10 chunks
    api.get("/provider-configs").mock(return_value=httpx.Response(200, stream=slow))
    api.get("/provider-deployments").mock(return_value=httpx.Response(
        200, stream=Paced(page([{"id": f"pde_{i}"} for i in range(50)]), 0.1)))
    async with make_client(limits=RequestLimits(max_listed_objects=40)) as client:
        with pytest.raises(ListingTooLargeError):
            await client.list_many({"/provider-deployments": "deployment", "/provider-configs": "config"})
        await asyncio.sleep(0.8)  # time enough for the slow page to be read whole, were it still read
    assert 0 < slow.sent < len(slow.body)  # cut where the other list failed


async def test_a_list_stopped_by_its_budget_keeps_no_parsed_page(api: respx.MockRouter, make_client: Any) -> None:
    """Each list that fails after the first used to keep its last page whole in the traceback of
    its error (every list of a live read fails once the shared budget is spent)."""
    body = page([{"id": f"pde_{i:06d}", "name": "x", "description": "d" * 2000} for i in range(5000)])
    for path in PATHS:
        api.get(path).mock(side_effect=lambda request: httpx.Response(200, content=body))
    async with make_client(limits=RequestLimits(max_listed_objects=1000)) as client:
        tracemalloc.start()
        try:
            with pytest.raises(ListingTooLargeError) as caught:
                await client.list_many(PATHS, keep=Keeper("prod").page)
            held = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
    assert caught.value.code == "listing_too_large"
    # 6 pages of 10 MB parse into 70 MB; what the errors may keep is their ids (about 2 MB).
    assert held < 8 << 20, f"{held >> 20} MiB held"


async def test_bodies_past_a_mebibyte_are_read_a_few_at_a_time(api: respx.MockRouter, make_client: Any) -> None:
    big = page([{"id": f"pde_{i}", "description": "d" * 300_000} for i in range(10)], more=False)  # 3 MiB
    for path in PATHS:
        api.get(path).mock(side_effect=lambda request: httpx.Response(200, stream=Paced(big)))
    Paced.most = 0
    started = time.monotonic()
    async with make_client() as client:
        listed = await client.list_many(PATHS)
    assert all(len(items) == 10 for items in listed.values())
    assert Paced.most == LARGE_BODIES < len(PATHS)  # without the gate, all six at once
    assert time.monotonic() - started < 10


async def test_an_id_too_long_for_a_cursor_ends_the_list_with_an_answer(api: respx.MockRouter,
                                                                        make_client: Any) -> None:
    route = api.get("/provider-deployments").mock(return_value=httpx.Response(
        200, content=page([{"id": "pde_" + "x" * MAX_CURSOR}])))
    async with make_client() as client:
        with pytest.raises(ApiError) as caught:
            await client.list_all("/provider-deployments")
    assert str(caught.value) == ("invalid_response: a page's last id is longer than 1,000 characters "
                                 "(GET /provider-deployments)")
    assert route.call_count == 1
