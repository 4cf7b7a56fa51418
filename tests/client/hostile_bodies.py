"""Hostile bodies for the peak-memory tests (issue 21 items 1 and 2), served by HostileServer:
compression bombs, and listings that never end, of realistic objects (Metorial deployments and
session templates, Metlo and Metal keys), each page as full as the per-response caps allow.

Every page is built once as bytes with a fixed-width page mark in its ids, and each request
gets it with the next page number in their place: ids never repeat (the client's pagination
check passes), and a page of 16 MiB costs the server a few joins, not a `json.dumps`.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from metorial_apply.api.limits import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_JSON_VALUES, structure, value_bound
from tests.client.hostile import Behaviour, head_bytes, json_reply

MIB = 1 << 20
SPACES = b" " * MIB
MARK = b"@PAGE@@@"  # 8 bytes, replaced by the page number (8 digits) in every id of a page
TIME = '"2026-01-05T10:21:07.512Z"'
PROVIDER = "pro_8Yb3kKq1vXc9mZ2wLp4t"


def _deflate_block() -> bytes:
    """One MiB of spaces as raw deflate ending in a full flush: deflate then forgets its window,
    so the next MiB compresses to the very same bytes, and a bomb is this block repeated."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(SPACES) + packer.flush(zlib.Z_FULL_FLUSH)


def gzip_of_spaces(mib: int) -> bytes:
    """A valid gzip member of `mib` MiB of spaces (about 1 KiB per MiB), built in a second."""
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(SPACES, crc)
    last = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()  # an empty final block
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + _deflate_block() * mib + last + struct.pack("<II", crc, (mib * MIB) & 0xFFFFFFFF)


def gzip_bomb(mib: int, layers: int = 1, declared: int | None = None) -> Behaviour:
    """A 200 whose body is `mib` MiB of spaces gzipped `layers` times (a 1 GiB bomb is 1 MiB; in
    two layers 2 GiB is about 3 KiB), its Content-Encoding naming `declared` gzip layers (all of
    them unless said): one declared layer around two hides the inner one from the header."""
    body = gzip_of_spaces(mib)
    for _ in range(layers - 1):
        body = zlib.compress(body, 9, 16 + zlib.MAX_WBITS)
    encoding = ", ".join(["gzip"] * (layers if declared is None else declared))
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding, "Content-Length": str(len(body))}
    answer_bytes = head_bytes("200 OK", headers) + body

    async def answer(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(answer_bytes)
    return answer


# Realistic objects, as the API (and the emulator) list them, with `@ID@` where a unique id goes.
DEPLOYMENT = (
    '{"object":"provider.deployment","id":"pde_@ID@","status":"active","name":"support-bot-@ID@",'
    '"description":"GitHub tools for the support bot","metadata":{"team":"support","owner":"platform@example.com",'
    '"cost-center":"cc-1234"},"is_default":false,"tool_filter":{"type":"allow_all","ignore_parent_filters":false},'
    f'"provider_id":"{PROVIDER}","locked_version":null,"default_config":null,"created_at":{TIME},"updated_at":{TIME}}}'
)
TEMPLATE = (
    '{"object":"session.template","id":"stm_@ID@","status":"active","name":"support-@ID@",'
    '"description":"Support assistant","metadata":{"team":"support"},"providers":[{"object":'
    '"session.template.provider","id":"stp_@ID@","status":"active","tool_filter":{"type":"allow_all",'
    f'"ignore_parent_filters":false}},"provider_id":"{PROVIDER}","session_template_id":"stm_@ID@",'
    '"deployment":{"object":"provider.deployment#preview","id":"pde_@ID@","name":"github","description":null,'
    f'"metadata":{{}},"is_default":false,"provider_id":"{PROVIDER}","created_at":{TIME},"updated_at":{TIME}}},'
    f'"config":null,"auth_config":null,"created_at":{TIME},"updated_at":{TIME}}}],"integration_instance_id":null,'
    '"integration_instance_group_id":null,"identity_actor_id":null,"identity_id":null,'
    f'"created_at":{TIME},"updated_at":{TIME}}}'
)
AUTH_CONFIG = (
    '{"object":"provider.auth_config","id":"pac_@ID@","status":"active","name":"github-oauth-@ID@",'
    '"description":"OAuth for the support bot","metadata":{"team":"support"},"type":"oauth","source":"manual",'
    f'"is_default":true,"provider_id":"{PROVIDER}","tool_filter":{{"type":"allow_all","ignore_parent_filters":false}},'
    '"auth_method":{"object":"provider.capabilities.auth_method","id":"pam_github_oauth","key":"oauth","type":"oauth"},'
    '"deployment":{"object":"provider.deployment#preview","id":"pde_@ID@","name":"github","description":null,'
    f'"metadata":{{}},"is_default":false,"provider_id":"{PROVIDER}","created_at":{TIME},"updated_at":{TIME}}},'
    '"credentials":{"object":"provider.auth_credentials","id":"pcr_@ID@","type":"oauth","status":"active",'
    f'"is_default":false,"is_managed":false,"provider_id":"{PROVIDER}","name":"github-app","description":null,'
    f'"metadata":{{}},"scopes":["repo"],"created_at":{TIME},"updated_at":{TIME}}},"created_at":{TIME},"updated_at":{TIME}}}'
)
METLO_KEY = f'{{"name":"other-team~ingest-@ID@~1","identifier":"idn_@ID@","created":{TIME},"for":null}}'
METAL_KEY = ('{"id":"65f0c0de@ID@","name":"other-team~sync-@ID@~1","keyLastFour":"a1b2","clientId":"cli_@ID@",'
             f'"createdAt":{TIME}}}')


def large(item: str, field: str, size: int) -> str:
    """`item` with a string `field` of `size` bytes (a description, a name): few objects, big ones."""
    return item.replace(f'"{field}":"', f'"{field}":"' + "x" * size, 1)


@dataclass(frozen=True)
class Shape:
    """How one API wraps a list page: `prefix` items `suffix`."""

    prefix: bytes
    suffix: bytes


METORIAL = Shape(b'{"object":"list","items":[', b'],"pagination":{"has_more_before":false,"has_more_after":true}}')
METAL = Shape(b'{"data":[', b"]}")
METLO = Shape(b"[", b"]")
EMPTY_METORIAL_PAGE = b'{"object":"list","items":[],"pagination":{"has_more_before":false,"has_more_after":false}}'


def fitting(item: str, wanted: int = 100_000) -> int:
    """Items per page: `wanted`, or fewer so the page stays within the client's default body and
    value caps (as the client counts them): a page the client reads, parses and keeps."""
    one = item.replace("@ID@", MARK.decode() + "000000").encode()
    per_values = (DEFAULT_MAX_JSON_VALUES - 100) // value_bound(structure(one + b","))
    per_bytes = (DEFAULT_MAX_BODY_BYTES - 1024) // (len(one) + 1)
    return min(wanted, per_values, per_bytes)


def page_body(shape: Shape, item: str, count: int) -> bytes:
    items = ",".join(item.replace("@ID@", f"{MARK.decode()}{i:06d}") for i in range(count))
    return shape.prefix + items.encode() + shape.suffix


def endless(shape: Shape, item: str, count: int,
            answers: Callable[[bytes], bytes | None] = lambda head: None) -> Behaviour:
    """Every request gets a page of `count` items (and, for Metorial, "more pages after this"),
    unless `answers(head)` gives a body of its own (the catalog, say). A page is written a few
    hundred ids at a time, its number in place of MARK, and never held whole per request."""
    pieces = page_body(shape, item, count).split(MARK)
    length = sum(map(len, pieces)) + len(MARK) * (len(pieces) - 1)  # a page number is as long as MARK
    pages = itertools.count(1)

    async def answer(head: bytes, writer: asyncio.StreamWriter) -> None:
        body = answers(head)
        if body is not None:
            writer.write(json_reply(body))
            return
        number = b"%08d" % next(pages)
        writer.write(head_bytes("200 OK", {"Content-Type": "application/json", "Content-Length": str(length)}))
        for start in range(0, len(pieces), 256):
            writer.write(number.join(pieces[start:start + 256]) + (number if start + 256 < len(pieces) else b""))
            await writer.drain()
    return answer


def empty_catalog(head: bytes) -> bytes | None:
    """An empty provider catalog, so a plan gets past it to the live read's endless lists."""
    return EMPTY_METORIAL_PAGE if head.startswith(b"GET /providers") else None
