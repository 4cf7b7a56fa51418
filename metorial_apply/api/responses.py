"""HTTP responses and transport failures → JSON values or typed ApiErrors.

Nothing built here ever holds a request body, a header, a query value or an httpx object:
errors carry the method, the path, the API's code/message/hint/field problems and the
request id, so they are safe to print, log and pickle.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, field
from typing import Any

import httpx

from metorial_apply.api.limits import (
    DEFAULT_MAX_JSON_DEPTH,
    DEFAULT_MAX_JSON_VALUES,
    DeadlineExceeded,
    EncodingRefusedError,
    RequestLimits,
    ResponseLimitError,
    ResponseTooLargeError,
    parse_json,
)
from metorial_apply.core.errors import (
    ApiCall,
    ApiError,
    FieldProblem,
    OutcomeUnknownError,
    error_class_for,
)
from metorial_apply.core.scrub import SECRETS

MAX_MESSAGE_CHARS = 500  # an API message is shown to people; a runaway one is cut
MAX_PROBLEMS = 50
REQUEST_ID_HEADER = "metorial-req-id"


@dataclass(frozen=True)
class Reply:
    """A whole response, read within the request's limits (deadline, body cap): nothing in it
    refers back to the connection, and its JSON is parsed only through the depth check."""

    status_code: int
    headers: httpx.Headers
    content: bytes = field(repr=False)
    reason_phrase: str = ""
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    max_json_values: int = DEFAULT_MAX_JSON_VALUES

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self, call: ApiCall) -> Any:
        """The body's JSON value; a ResponseLimitError past the depth or value cap, ValueError when not JSON."""
        return parse_json(call, self.status_code, self.content, self.max_json_depth, self.max_json_values)


def server_text(value: Any, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A string a server sent, for a message: the run's secrets scrubbed first (a 400 may quote
    the request body), then cut to `limit` (after, or a cut secret would no longer match)."""
    # Cut first to what can matter (a secret reaching the limit ends within `longest` of it), so
    # a hostile 16 MB message costs no more to scrub than a short one.
    text = SECRETS.scrub_server(value[: limit + SECRETS.longest]) if isinstance(value, str) else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"



def _problems(raw: Any) -> tuple[FieldProblem, ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for item in raw[:MAX_PROBLEMS]:
        if isinstance(item, dict):
            path = item.get("path") if isinstance(item.get("path"), list) else []
            out.append(FieldProblem(path=tuple(str(p) for p in path), code=server_text(item.get("code"), 100),
                                    message=server_text(item.get("message"))))
    return tuple(out)


LARGE_BODY = 1024 * 1024  # a page of 100 objects is far smaller; index records and hostile pages are not
ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
ACCEPT_ENCODING = "gzip, deflate"  # what read_reply decodes; httpx would also offer br and zstd


def _decoder(call: ApiCall, response: httpx.Response) -> zlib._Decompress | None:
    """One zlib decoder for the declared encoding; nested or unknown encodings are refused."""
    declared = [e.strip().lower() for e in response.headers.get("content-encoding", "").split(",")]
    encodings = [e for e in declared if e and e != "identity"]
    if not encodings:
        return None
    if len(encodings) > 1 or encodings[0] not in ENCODINGS:
        raise EncodingRefusedError(with_request_id(call, response), response.status_code, ", ".join(encodings))
    return zlib.decompressobj(ENCODINGS[encodings[0]])


async def read_reply(call: ApiCall, response: httpx.Response, limits: RequestLimits,
                     large: asyncio.Semaphore | None = None) -> Reply:
    """Read a streamed response whole, counting its bytes against the cap as they arrive, both as
    sent and as decompressed, and decompressing at most what the cap has left: nothing is
    allocated from a declared length, and a small bomb cannot expand past the cap. A body past
    LARGE_BODY reads on only while it holds `large`, so the client's concurrent requests (a live
    read lists every kind at once) hold a few large bodies at a time, not one each: against a
    server that fills every page to the cap, that was 100 MiB more at the peak."""
    cap = limits.max_body_bytes
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise ResponseTooLargeError(with_request_id(call, response), response.status_code, cap)
    decoder, body, sent, held = _decoder(call, response), bytearray(), 0, False
    try:
        async for chunk in response.aiter_raw():
            sent += len(chunk)
            # At most one byte more than the cap has room for: enough to tell it is too large.
            body += decoder.decompress(chunk, cap - len(body) + 1) if decoder is not None else chunk
            if len(body) > cap or sent > cap:
                raise ResponseTooLargeError(with_request_id(call, response), response.status_code, cap)
            if large is not None and not held and len(body) > LARGE_BODY:
                await large.acquire()  # the server waits meanwhile (nothing more is read)
                held = True
        body += decoder.flush() if decoder is not None else b""
    except zlib.error:
        raise EncodingRefusedError(with_request_id(call, response), response.status_code, "corrupt data") from None
    finally:
        if held and large is not None:
            large.release()
    return Reply(response.status_code, response.headers, bytes(body), response.reason_phrase, limits.max_json_depth,
                 limits.max_json_values)


def page_of(call: ApiCall, body: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """A list page's items and whether more pages follow."""
    items = body.get("items")
    pagination = body.get("pagination")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise invalid_response(call, None, "a list response without an `items` array of objects")
    more = isinstance(pagination, dict) and pagination.get("has_more_after") is True
    return items, more


def error_body(call: ApiCall, response: Reply) -> dict[str, Any]:
    """The API's error object, or {} when the body is not one (a proxy's HTML page, a hostile
    nesting: the status alone then speaks)."""
    try:
        body = response.json(call)
    except (ValueError, ResponseLimitError):
        return {}
    return body if isinstance(body, dict) else {}


def with_request_id(call: ApiCall, response: Reply | httpx.Response | None) -> ApiCall:
    request_id = response.headers.get(REQUEST_ID_HEADER) if response is not None else None
    if not request_id:
        return call
    return ApiCall(
        method=call.method, path=call.path, kind=call.kind, name=call.name, request_id=server_text(request_id, 100)
    )


def status_error(call: ApiCall, response: Reply) -> ApiError:
    """A typed error for a non-2xx response, with the API's code, message, hint and field problems."""
    body = error_body(call, response)
    status = response.status_code
    code = server_text(body.get("code"), 100) or f"http_{status}"
    message = server_text(body.get("message")) or response.reason_phrase or "request failed"
    hint = server_text(body.get("hint")) or None
    cls = error_class_for(status)
    return cls(
        with_request_id(call, response), status, code, message, hint=hint, problems=_problems(body.get("errors"))
    )


def transport_message(exc: httpx.HTTPError) -> tuple[str, str]:
    """(code, message) for a transport failure, without httpx's text (which may quote the URL)."""
    if isinstance(exc, DeadlineExceeded):
        return "deadline_exceeded", "no complete response within the deadline (--timeout)"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", f"the request timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return "connection_failed", f"could not connect to {_origin(exc) or 'the API'}"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return "connection_lost", "the connection was closed before a response arrived"
    return "transport_error", f"the request failed ({type(exc).__name__})"


def _origin(exc: httpx.HTTPError) -> str | None:
    """scheme://host[:port] of the failed request: names the server, never user info or path."""
    try:
        url = exc.request.url
    except RuntimeError:  # an exception raised without a request
        return None
    return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")


def transport_error(call: ApiCall, exc: httpx.HTTPError) -> ApiError:
    code, message = transport_message(exc)
    return error_class_for(None)(call, None, code, message)


def outcome_unknown(call: ApiCall, stamp: dict[str, str], *, response: Reply | None = None,
                    exc: httpx.HTTPError | ApiError | None = None) -> OutcomeUnknownError:
    """A create that may or may not have happened; the stamp lets the caller look it up."""
    if isinstance(exc, ApiError):  # the deadline passed, or the body broke a limit
        return OutcomeUnknownError(call, exc.status, exc.code, f"{exc.api_message}; the create may have happened",
                                   stamp=stamp)
    if response is not None:
        body = error_body(call, response)
        code = server_text(body.get("code"), 100) or f"http_{response.status_code}"
        detail = server_text(body.get("message")) or response.reason_phrase or "server error"
        return OutcomeUnknownError(with_request_id(call, response), response.status_code, code,
                                   f"{detail}; the create may have happened", stamp=stamp)
    code, message = transport_message(exc) if exc is not None else ("unknown", "no response")
    return OutcomeUnknownError(call, None, code, f"{message}; the create may have happened", stamp=stamp)


def invalid_response(call: ApiCall, response: Reply | None, what: str) -> ApiError:
    """A 2xx whose body is not what the contract promises."""
    status = response.status_code if response is not None else None
    return ApiError(with_request_id(call, response), status, "invalid_response", what)


def json_object(call: ApiCall, response: Reply) -> dict[str, Any]:
    """The JSON object of a 2xx response, or an `invalid_response` (or a ResponseLimitError) ApiError."""
    try:
        body = response.json(call)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise invalid_response(call, response, "the API answered with something other than a JSON object")
    return body
