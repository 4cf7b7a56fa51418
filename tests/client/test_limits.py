"""The per-request bounds inside the client: a total deadline around the whole exchange, a body
cap counted while streaming, and a JSON depth cap checked before parsing."""

from __future__ import annotations

import asyncio
import gzip
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from metorial_apply.api.limits import (
    DeadlineExceededError,
    EncodingRefusedError,
    ListingTooLargeError,
    RequestLimits,
    ResponseTooDeepError,
    ResponseTooLargeError,
    ResponseTooManyValuesError,
    listed_caps,
    path_template,
    structure,
    too_deep,
    value_bound,
)
from metorial_apply.core import errors

pytestmark = pytest.mark.anyio

DEPLOYMENTS = "/provider-deployments"


class Trickle(httpx.AsyncByteStream):
    """A body that arrives one byte per `every_s` (real time: the deadline is the loop's clock)."""

    def __init__(self, body: bytes, every_s: float) -> None:
        self.body, self.every_s = body, every_s

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(len(self.body)):
            await asyncio.sleep(self.every_s)
            yield self.body[i : i + 1]


@pytest.mark.parametrize(("body", "cap", "deep"), [
    (b'{"a": [1, {"b": [2]}]}', 4, False),
    (b'{"a": [1, {"b": [2]}]}', 3, True),
    (b"[" * 101 + b"]" * 101, 100, True),
    (b"[" * 100 + b"]" * 100, 100, False),
    (b"[]" * 5000, 1, False),  # many brackets, never deep
    (json.dumps({"s": "[[[[[[[[[[" * 50}).encode(), 2, False),  # brackets inside a string
    (json.dumps({"s": 'x\\"[[[[[[[[[[' * 50, "t": "]"}).encode(), 2, False),  # escaped quotes inside
    (b'"unterminated [[[[[', 2, True),  # not JSON either way; never parsed
    (json.dumps({"s": "[" * 200_000, "t": ["]"] * 3}).encode(), 2, False),  # a string across many slices
    (json.dumps(["\\" * 70_000 + "[", [[]]]).encode(), 3, False),  # escapes across slices
    (json.dumps(["\\" * 70_000 + "[", [[]]]).encode(), 2, True),
])
def test_too_deep_counts_only_brackets_outside_strings(body: bytes, cap: int, deep: bool) -> None:
    assert too_deep(structure(body), cap) is deep


def test_the_scan_of_many_short_strings_holds_about_the_body_again() -> None:
    """16 MiB of `"",` is 5.6 million strings: the scan must not hold a piece per string (one
    `re.sub` over it held 170 MiB)."""
    body = b"[" + b'"",' * (16 * 1024 * 1024 // 3 - 1) + b'""]'
    tracemalloc.start()
    try:
        marks = structure(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert value_bound(marks) == 16 * 1024 * 1024 // 3 + 1
    assert peak < 1.5 * len(body), peak


@pytest.mark.parametrize(("body", "values"), [
    (b"1", 1), (b"[]", 2), (b"[1, 2, 3]", 4), (b'{"a": [1, {"b": "x,y,[z"}]}', 5), (b'["a,b", "c"]', 3),
])
def test_value_bound_is_never_below_the_count_and_ignores_strings(body: bytes, values: int) -> None:
    assert value_bound(structure(body)) == values


async def test_too_many_values_are_refused_before_parsing(api: respx.MockRouter, make_client: Any) -> None:
    api.get(DEPLOYMENTS).mock(return_value=httpx.Response(200, content=b"[" + b",".join([b"{}"] * 1001) + b"]"))
    async with make_client(limits=RequestLimits(max_json_values=1000)) as client:
        with pytest.raises(ResponseTooManyValuesError) as caught:
            await client.list_all(DEPLOYMENTS)
    assert str(caught.value) == ("200 response_too_many_values: the response's JSON holds more than 1,000 values; "
                                 "not parsed (GET /provider-deployments)")


@pytest.mark.parametrize(("path", "template"), [
    ("/providers", "/providers"), ("/provider-deployments/pde_1", "/provider-deployments/{id}"),
    ("/session-templates/set_9/tools", "/session-templates/{id}/tools"), ("/providers?id=x", "/providers"),
])
def test_path_template_hides_ids_and_queries(path: str, template: str) -> None:
    assert path_template(path) == template


async def test_deep_json_is_refused_before_parsing(api: respx.MockRouter, make_client: Any) -> None:
    api.get(f"{DEPLOYMENTS}/pde_1").mock(return_value=httpx.Response(200, content=b"[" * 5000 + b"]" * 5000))
    async with make_client(limits=RequestLimits(max_json_depth=50)) as client:
        with pytest.raises(ResponseTooDeepError) as caught:
            await client.get(DEPLOYMENTS, "pde_1", kind="deployment", name="gh")
    assert str(caught.value) == ("200 response_too_deep: the response's JSON nests deeper than 50 levels; "
                                 "not parsed (GET /provider-deployments/{id})")


async def test_a_deep_error_body_still_gives_the_status(api: respx.MockRouter, make_client: Any) -> None:
    api.get(DEPLOYMENTS).mock(return_value=httpx.Response(400, content=b"[" * 5000 + b"]" * 5000))
    async with make_client() as client:
        with pytest.raises(errors.BadRequestError) as caught:
            await client.list_all(DEPLOYMENTS)
    assert caught.value.code == "http_400"


async def test_body_over_the_cap_stops_reading(api: respx.MockRouter, make_client: Any) -> None:
    chunks: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while len(chunks) < 1000:  # 64 MiB if nobody stopped reading
            chunks.append(1)
            yield b" " * 65536

    api.get(DEPLOYMENTS).mock(return_value=httpx.Response(200, stream=_Stream(endless())))
    async with make_client(limits=RequestLimits(max_body_bytes=1 << 20)) as client:
        with pytest.raises(ResponseTooLargeError) as caught:
            await client.list_all(DEPLOYMENTS, params={"search": "secret-query"})
    assert len(chunks) == 17  # 16 chunks fit in 1 MiB; the 17th passes the cap and reading stops
    assert str(caught.value) == ("200 response_too_large: the response body is larger than the 1 MiB cap; "
                                 "stopped reading it (GET /provider-deployments)")


async def test_a_declared_length_over_the_cap_is_refused_unread(api: respx.MockRouter, make_client: Any) -> None:
    api.get(DEPLOYMENTS).mock(return_value=httpx.Response(
        200, headers={"content-length": str(2 << 20)}, stream=_Stream(_never())))
    async with make_client(limits=RequestLimits(max_body_bytes=1 << 20)) as client:
        with pytest.raises(ResponseTooLargeError):
            await client.list_all(DEPLOYMENTS)


async def test_a_create_whose_answer_breaks_a_limit_is_an_unknown_outcome(api: respx.MockRouter,
                                                                          make_client: Any) -> None:
    route = api.post(DEPLOYMENTS).mock(return_value=httpx.Response(200, content=b"[" * 500 + b"]" * 500))
    async with make_client() as client:
        with pytest.raises(errors.OutcomeUnknownError) as caught:
            await client.create(DEPLOYMENTS, {}, kind="deployment", name="gh", stamp={"s": "1"})
    assert caught.value.stamp == {"s": "1"} and route.call_count == 1
    assert caught.value.code == "response_too_deep"


async def test_the_deadline_bounds_a_trickling_body(api: respx.MockRouter, make_client: Any) -> None:
    route = api.get(DEPLOYMENTS).mock(side_effect=lambda request: httpx.Response(
        200, stream=Trickle(b'{"items": []}', every_s=0.05)))
    async with make_client(limits=RequestLimits(deadline_s=0.2)) as client:
        with pytest.raises(DeadlineExceededError) as caught:
            await client.list_all(DEPLOYMENTS)
    assert isinstance(caught.value, errors.TransportError)  # recovery listings retry it as transient
    assert route.call_count == 3  # retried like any timeout, make_client's max_attempts times
    assert str(caught.value) == ("deadline_exceeded: no complete response within the 0.2 s deadline (--timeout) "
                                 "(each of 3 attempts) (GET /provider-deployments)")


async def test_a_create_past_its_deadline_is_never_resent(api: respx.MockRouter, make_client: Any) -> None:
    route = api.post(DEPLOYMENTS).mock(side_effect=lambda request: httpx.Response(
        200, stream=Trickle(b'{"id": "pde_1"}', every_s=0.05)))
    async with make_client(limits=RequestLimits(deadline_s=0.2)) as client:
        with pytest.raises(errors.OutcomeUnknownError) as caught:
            await client.create(DEPLOYMENTS, {}, kind="deployment", name="gh", stamp={"s": "1"})
    assert route.call_count == 1 and caught.value.code == "deadline_exceeded"


async def test_a_body_within_the_deadline_and_caps_reads_normally(api: respx.MockRouter, make_client: Any) -> None:
    api.get(f"{DEPLOYMENTS}/pde_1").mock(side_effect=lambda request: httpx.Response(
        200, stream=Trickle(b'{"id": "pde_1"}', every_s=0.001)))
    async with make_client(limits=RequestLimits(deadline_s=5, max_body_bytes=15, max_json_depth=1)) as client:
        assert await client.get(DEPLOYMENTS, "pde_1") == {"id": "pde_1"}


def test_limits_are_checked() -> None:
    for bad in ({"deadline_s": 0}, {"max_body_bytes": 0}, {"max_json_depth": 0}, {"max_json_values": 0}):
        with pytest.raises(ValueError):
            RequestLimits(**bad)


class _Stream(httpx.AsyncByteStream):
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks:
            yield chunk


async def _never() -> AsyncIterator[bytes]:
    raise AssertionError("the body was read")
    yield b""  # pragma: no cover - makes this an async generator


def gzip_of_zeros(size: int, wbits: int = 31) -> bytes:
    """`size` zero bytes compressed (a bomb: about 1,000 times smaller), built without holding them."""
    encoder = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = b"\0" * (1 << 20)
    return b"".join(encoder.compress(block) for _ in range(size >> 20)) + encoder.flush()


async def test_a_compressed_bomb_is_cut_at_the_cap_as_it_decompresses(api: respx.MockRouter,
                                                                       make_client: Any) -> None:
    """A small gzip body that expands past the cap: decompressed bytes are counted as they come,
    and no more than the cap (+1) is ever decompressed, so memory stays near the cap."""
    bomb = gzip_of_zeros(256 << 20)
    assert len(bomb) < 300_000
    api.get(DEPLOYMENTS).mock(side_effect=lambda request: httpx.Response(
        200, headers={"content-encoding": "gzip"}, stream=_Stream(chunked(bomb))))
    tracemalloc.start()
    try:
        async with make_client(limits=RequestLimits(max_body_bytes=4 << 20)) as client:
            with pytest.raises(ResponseTooLargeError):
                await client.list_all(DEPLOYMENTS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 << 20, f"peak {peak >> 20} MiB"


async def chunked(body: bytes, size: int = 16_384) -> AsyncIterator[bytes]:
    """A body as a server streams it (httpx decodes a Response built from bytes at once)."""
    for start in range(0, len(body), size):
        yield body[start:start + size]


@pytest.mark.parametrize("encoding", ["gzip, gzip", "br", "zstd", "gzip, br"])
async def test_nested_and_unknown_encodings_are_refused(api: respx.MockRouter, make_client: Any,
                                                        encoding: str) -> None:
    body = gzip.compress(gzip.compress(b"{}"))
    api.get(DEPLOYMENTS).mock(side_effect=lambda request: httpx.Response(
        200, headers={"content-encoding": encoding}, stream=_Stream(chunked(body))))
    async with make_client() as client:
        with pytest.raises(EncodingRefusedError, match="content encoding"):
            await client.list_all(DEPLOYMENTS)


@pytest.mark.parametrize(("encoding", "wbits"), [("gzip", 31), ("deflate", 15), ("identity", 0)])
async def test_a_compressed_answer_within_the_cap_reads_normally(api: respx.MockRouter, make_client: Any,
                                                                 encoding: str, wbits: int) -> None:
    page = json.dumps({"items": [{"id": "pde_1"}], "pagination": {"has_more_after": False}}).encode()
    body = page if not wbits else zlib.compress(page, wbits=wbits)
    route = api.get(DEPLOYMENTS).mock(side_effect=lambda request: httpx.Response(
        200, headers={"content-encoding": encoding}, stream=_Stream(chunked(body))))
    async with make_client() as client:
        assert [o["id"] for o in await client.list_all(DEPLOYMENTS)] == ["pde_1"]
    assert route.calls[0].request.headers["accept-encoding"] == "gzip, deflate"


def endless_pages(per_page: int, pad: int = 0) -> Any:
    """A server that always answers "more pages" (issue 21 item 2), each page `per_page` items."""
    served = [0]

    def page(request: httpx.Request) -> httpx.Response:
        served[0] += 1
        start = served[0] * per_page
        items = [{"id": f"pde_{start + i}", "name": "x" * pad} for i in range(per_page)]
        return httpx.Response(200, json={"items": items, "pagination": {"has_more_after": True}})

    return page, served


@pytest.mark.parametrize(("limits", "pad", "pages", "what"), [
    (RequestLimits(max_listed_objects=50_000), 0, 3, "50,000 objects"),
    (RequestLimits(max_listed_bytes=4 << 20), 1000, 5, "4 MiB"),
])
async def test_a_listing_that_never_ends_stops_at_its_budget_across_pages(
        api: respx.MockRouter, make_client: Any, limits: RequestLimits, pad: int, pages: int, what: str) -> None:
    page, served = endless_pages(20_000 if not pad else 1000, pad)
    api.get(DEPLOYMENTS).mock(side_effect=page)
    api.get("/provider-configs").mock(side_effect=page)
    async with make_client(limits=limits) as client:
        with pytest.raises(ListingTooLargeError, match=what):
            await client.list_many({DEPLOYMENTS: "deployment", "/provider-configs": "config"})
    assert served[0] <= pages + 2  # both lists share the one budget of the live read


def test_the_listing_budget_is_settable_from_the_environment() -> None:
    assert listed_caps({"METORIAL_APPLY_MAX_LISTED_OBJECTS": "1000"}) == {"max_listed_objects": 1000}
    assert listed_caps({"METORIAL_APPLY_MAX_LISTED_BYTES": ""}) == {}
    with pytest.raises(errors.UsageError, match="positive whole number"):
        listed_caps({"METORIAL_APPLY_MAX_LISTED_BYTES": "-5"})
    assert RequestLimits().max_listed_objects == 200_000 and RequestLimits().max_listed_bytes == 128 << 20
