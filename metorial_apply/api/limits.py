"""Bounds on one API request: a total deadline, a body size cap and a JSON nesting cap.

A misbehaving server must not hang a run or blow up its memory: httpx's timeouts bound each
read, not a body that trickles one byte at a time, so the client streams every response under
one asyncio deadline and counts the bytes as they arrive. The nesting of a JSON body is
measured before `json.loads` sees it, so a deep body is a clear error rather than a
RecursionError from the parser or from anything that walks the value later.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from metorial_apply.core.errors import ApiCall, ApiError, TransportError

DEFAULT_DEADLINE_S = 30.0
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
# The API's own objects nest a handful of levels; metadata is free-form but written by people.
# 100 stays far below Python's recursion limit for everything that walks a value afterwards.
DEFAULT_MAX_JSON_DEPTH = 100

# A JSON string (escapes included); what is inside one never counts as nesting.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = frozenset(b"[{")


@dataclass(frozen=True)
class RequestLimits:
    """Per-request bounds: `deadline_s` for the whole exchange (body included), the decoded body
    size and the JSON nesting depth."""

    deadline_s: float = DEFAULT_DEADLINE_S
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH

    def __post_init__(self) -> None:
        if not self.deadline_s > 0 or self.max_body_bytes < 1 or self.max_json_depth < 1:
            raise ValueError("request limits need a deadline > 0 s, a body cap >= 1 byte and a depth cap >= 1")


def path_template(path: str) -> str:
    """`/provider-deployments/pde_1/tools` → `/provider-deployments/{id}/tools`: every path of this
    API is a collection, then an id, then an optional sub-collection."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    if len(parts) > 1:
        parts[1] = "{id}"
    return "/" + "/".join(parts)


def _template_call(call: ApiCall) -> ApiCall:
    return ApiCall(method=call.method, path=path_template(call.path), kind=call.kind, name=call.name,
                   request_id=call.request_id)


def size_text(n: int) -> str:
    """Bytes for people: `16 MiB`, `512 KiB`, `300 bytes`."""
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


class DeadlineExceeded(httpx.TimeoutException):
    """The whole exchange passed its deadline: a timeout like httpx's own, so it is retried (or,
    for a create, resolved by its stamp) the same way."""


class ResponseTooLargeError(ApiError):
    """The response body passed the size cap; reading stopped there."""

    def __init__(self, call: ApiCall, status: int | None, cap: int) -> None:
        self.cap = cap
        super().__init__(_template_call(call), status, "response_too_large",
                         f"the response body is larger than the {size_text(cap)} cap; stopped reading it")


class ResponseTooDeepError(ApiError):
    """The response's JSON nests deeper than the cap; it was not parsed."""

    def __init__(self, call: ApiCall, status: int | None, cap: int) -> None:
        self.cap = cap
        super().__init__(_template_call(call), status, "response_too_deep",
                         f"the response's JSON nests deeper than {cap} levels; not parsed")


class DeadlineExceededError(TransportError):
    """No complete response (headers and body) arrived within the per-request deadline."""

    def __init__(self, call: ApiCall, deadline_s: float, attempts: int) -> None:
        self.deadline_s = deadline_s
        tries = f" (each of {attempts} attempts)" if attempts > 1 else ""
        super().__init__(_template_call(call), None, "deadline_exceeded",
                         f"no complete response within the {deadline_s:g} s deadline (--timeout){tries}")


def too_deep(body: bytes, cap: int) -> bool:
    """Whether `body` nests deeper than `cap`, counting only brackets outside strings. Runs in C
    except for one loop over the brackets, which stops as soon as the cap is passed."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if len(brackets) <= cap:
        return False  # too few brackets to pass the cap, whatever their order
    depth = 0
    for byte in brackets:
        depth += 1 if byte in _OPEN else -1
        if depth > cap:
            return True
    return False


def parse_json(call: ApiCall, status: int | None, body: bytes, max_depth: int) -> Any:
    """The JSON value of `body`; ResponseTooDeepError past `max_depth`, ValueError when not JSON."""
    if too_deep(body, max_depth):
        raise ResponseTooDeepError(call, status, max_depth)
    return json.loads(body)
