"""Dropped responses, and the in-process httpx transport that surfaces them as transport errors.

A "drop" stores the write and then closes the connection without a response. Over real
HTTP the client sees the socket close (httpx.RemoteProtocolError). In-process there is no
socket, so the app raises `ResponseDropped`, itself an `httpx.RemoteProtocolError`:
httpx.ASGITransport re-raises app exceptions (its default `raise_app_exceptions=True`), so
the caller of `client.post(...)` sees the same exception type in both setups.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

# A header value no HTTP server will serialize: uvicorn (h11 and httptools) marks the
# response started, rejects the header before writing a byte, and then closes the socket.
_UNSENDABLE_START = {"type": "http.response.start", "status": 500, "headers": [(b"x-emulator-drop", b"\n")]}


class ResponseDropped(httpx.RemoteProtocolError):
    """The emulator committed a write and then dropped its response on purpose."""

    def __init__(self) -> None:
        super().__init__("Server disconnected without sending a response.")


class DroppedResponse(Response):
    """Returned by the endpoint for a dropped write: aborts instead of answering."""

    def __init__(self) -> None:
        super().__init__(status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            # Starting the response stops Starlette's and uvicorn's error layers from sending
            # a 500 of their own when ResponseDropped propagates.
            await send(dict(_UNSENDABLE_START))
        except Exception as exc:  # the server refused the header: nothing was written
            raise ResponseDropped() from exc
        raise ResponseDropped()


class _QuietDrops(logging.Filter):
    """uvicorn logs every app exception; planned drops are not errors worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ResponseDropped)


def quiet_uvicorn_drop_logs() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


def asgi_transport(app: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
    """An httpx transport into the app in-process; dropped responses raise RemoteProtocolError.

    Use with `httpx.AsyncClient(transport=asgi_transport(app), base_url="http://emulator")`.
    `raise_app_exceptions` is forced on: without it a drop would look like a 500.
    """
    kwargs["raise_app_exceptions"] = True
    return httpx.ASGITransport(app=app, **kwargs)
