"""Bounds on one API request: a total deadline, a body size cap and JSON nesting and value caps.

A misbehaving server must not hang a run or blow up its memory: httpx's timeouts bound each
read, not a body that trickles one byte at a time, so the client streams every response under
one asyncio deadline and counts the bytes as they arrive. The nesting of a JSON body is
measured before `json.loads` sees it, so a deep body is a clear error rather than a
RecursionError from the parser or from anything that walks the value later, and its values
are counted, since 16 MiB of `[{},{},…]` parses into half a gigabyte of Python objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from metorial_apply.api.defaults import DEFAULT_DEADLINE_S
from metorial_apply.core.errors import ApiCall, ApiError, TransportError, UsageError, size_text

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
# The API's own objects nest a handful of levels; metadata is free-form but written by people.
# 100 stays far below Python's recursion limit for everything that walks a value afterwards.
DEFAULT_MAX_JSON_DEPTH = 100
# A page of 100 objects holds a few thousand values; 500,000 parse into at most ~120 MB even as
# one-key objects, the costliest value per byte of body.
DEFAULT_MAX_JSON_VALUES = 500_000
# One live read (every list of one `list_many`, or one `list_all`): bounds what a server that
# always answers "more pages" can make a run hold, across pages.
DEFAULT_MAX_LISTED_OBJECTS = 200_000
DEFAULT_MAX_LISTED_BYTES = 128 * 1024 * 1024

_NOT_MARKS = bytes(b for b in range(256) if b not in b'"[]{},')  # quotes stay: they delimit strings
_OPEN = frozenset(b"[{")
_SLICE = 1 << 16  # marks split at a time: bounds the pieces alive at once


@dataclass(frozen=True)
class RequestLimits:
    """Per-request bounds: `deadline_s` for the whole exchange (body included), the decoded body
    size and the JSON nesting depth."""

    deadline_s: float = DEFAULT_DEADLINE_S
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    max_json_values: int = DEFAULT_MAX_JSON_VALUES
    max_listed_objects: int = DEFAULT_MAX_LISTED_OBJECTS
    max_listed_bytes: int = DEFAULT_MAX_LISTED_BYTES

    def __post_init__(self) -> None:
        if not self.deadline_s > 0 or min(self.max_body_bytes, self.max_json_depth, self.max_json_values) < 1:
            raise ValueError("request limits need a deadline > 0 s and body, depth and value caps >= 1")


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


class DeadlineExceeded(httpx.TimeoutException):
    """The whole exchange passed its deadline: a timeout like httpx's own, so it is retried (or,
    for a create, resolved by its stamp) the same way."""


class ResponseLimitError(ApiError):
    """A response broke one of the per-request caps (size, nesting, values); it was not used."""


class ResponseTooLargeError(ResponseLimitError):
    """The response body passed the size cap; reading stopped there."""

    def __init__(self, call: ApiCall, status: int | None, cap: int) -> None:
        self.cap = cap
        super().__init__(_template_call(call), status, "response_too_large",
                         f"the response body is larger than the {size_text(cap)} cap; stopped reading it")


class EncodingRefusedError(ResponseLimitError):
    """A response in a content encoding the bounded reader does not decode (nested or unknown)."""

    def __init__(self, call: ApiCall, status: int | None, encoding: str) -> None:
        super().__init__(_template_call(call), status, "encoding_refused",
                         f"the response is in a content encoding this client does not read ({encoding[:60]!r}); "
                         "not used")


class ListingTooLargeError(ResponseLimitError):
    """One live read passed its budget of objects or bytes across pages; reading stopped there."""

    def __init__(self, call: ApiCall, what: str) -> None:
        super().__init__(_template_call(call), None, "listing_too_large",
                         f"the listing passed its budget of {what} across pages (METORIAL_APPLY_MAX_LISTED_OBJECTS, "
                         "METORIAL_APPLY_MAX_LISTED_BYTES); stopped reading it")


LISTED_ENV = {"max_listed_objects": "METORIAL_APPLY_MAX_LISTED_OBJECTS",
              "max_listed_bytes": "METORIAL_APPLY_MAX_LISTED_BYTES"}


def listed_caps(env: Mapping[str, str]) -> dict[str, int]:
    """The live read's budget from the environment (positive integers; unset or empty: default)."""
    out = {}
    for field_name, name in LISTED_ENV.items():
        text = env.get(name, "").strip()
        if text:
            if not text.isdigit() or int(text) < 1:
                raise UsageError(f"{name} must be a positive whole number, not {text[:40]!r}")
            out[field_name] = int(text)
    return out


@dataclass
class ListBudget:
    """What one live read may take across its pages: objects, and bytes counted from `start` of
    the client's running total (so concurrent lists of one read share it)."""

    max_objects: int
    max_bytes: int
    start: int
    objects: int = 0

    def take(self, call: ApiCall, objects: int, read_so_far: int) -> None:
        self.objects += objects
        if self.objects > self.max_objects:
            raise ListingTooLargeError(call, f"{self.max_objects:,} objects")
        if read_so_far - self.start > self.max_bytes:
            raise ListingTooLargeError(call, size_text(self.max_bytes))


class ResponseTooDeepError(ResponseLimitError):
    """The response's JSON nests deeper than the cap; it was not parsed."""

    def __init__(self, call: ApiCall, status: int | None, cap: int) -> None:
        self.cap = cap
        super().__init__(_template_call(call), status, "response_too_deep",
                         f"the response's JSON nests deeper than {cap} levels; not parsed")


class ResponseTooManyValuesError(ResponseLimitError):
    """The response's JSON holds more values than the cap; it was not parsed."""

    def __init__(self, call: ApiCall, status: int | None, cap: int) -> None:
        self.cap = cap
        super().__init__(_template_call(call), status, "response_too_many_values",
                         f"the response's JSON holds more than {cap:,} values; not parsed")


class DeadlineExceededError(TransportError):
    """No complete response (headers and body) arrived within the per-request deadline."""

    def __init__(self, call: ApiCall, deadline_s: float, attempts: int) -> None:
        self.deadline_s = deadline_s
        tries = f" (each of {attempts} attempts)" if attempts > 1 else ""
        super().__init__(_template_call(call), None, "deadline_exceeded",
                         f"no complete response within the {deadline_s:g} s deadline (--timeout){tries}")


def structure(body: bytes) -> bytes:
    """The brackets and commas of `body` outside its strings, in order (C speed throughout).

    Escapes go first, as JSON pairs them (an escaped backslash, then an escaped quote), so every
    quote left opens or closes a string; of the rest only quotes, brackets and commas are kept,
    and what lies between an opening and a closing quote is dropped, a slice at a time. (One
    `re.sub` over the body held a piece per string: 170 MiB for 16 MiB of short strings.) An
    unterminated last string is no string: its brackets count."""
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = body.translate(None, _NOT_MARKS)
    out, inside = [], False
    for start in range(0, len(marks), _SLICE):
        pieces = marks[start:start + _SLICE].split(b'"')
        out.append(b"".join(pieces[1 if inside else 0::2]))
        inside ^= len(pieces) % 2 == 0  # an odd number of quotes in the slice
    if inside:
        out.append(marks[marks.rfind(b'"') + 1:])
    return b"".join(out)


def value_bound(marks: bytes) -> int:
    """At least the number of values (a comma separates two, a bracket opens one)."""
    return marks.count(b",") + marks.count(b"[") + marks.count(b"{") + 1


def too_deep(marks: bytes, cap: int) -> bool:
    """Whether the brackets in `marks` nest deeper than `cap`; one loop over them, which stops
    as soon as the cap is passed."""
    brackets = marks.translate(None, b",")
    if len(brackets) <= cap:
        return False  # too few brackets to pass the cap, whatever their order
    depth = 0
    for byte in brackets:
        depth += 1 if byte in _OPEN else -1
        if depth > cap:
            return True
    return False


def parse_json(call: ApiCall, status: int | None, body: bytes, max_depth: int,
               max_values: int = DEFAULT_MAX_JSON_VALUES) -> Any:
    """The JSON value of `body`, or ResponseTooManyValuesError / ResponseTooDeepError before any
    parsing; ValueError when it is not JSON."""
    marks = structure(body)
    if value_bound(marks) > max_values:
        raise ResponseTooManyValuesError(call, status, max_values)
    if too_deep(marks, max_depth):
        raise ResponseTooDeepError(call, status, max_depth)
    return json.loads(body)
