"""A hostile HTTP server on 127.0.0.1 for the no-hang/no-blow-up tests: raw asyncio sockets in
a daemon thread, so it can do what no well-behaved framework would (trickle a body, stream
hundreds of megabytes, nest JSON without end). It answers every request the same way.

    with HostileServer(trickle(every_s=0.2)) as server:
        ...  # server.url, server.requests
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType

from metorial_apply.emulator.process import HOST

# Called with the request head (request line and headers, so a behaviour can answer by path)
# and the connection to write its answer to.
Behaviour = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]
CHUNK = b"x" * 65536


def head_bytes(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode()


def json_reply(body: bytes) -> bytes:
    """A 200 with `body` as its JSON, its length declared."""
    return head_bytes("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(body))}) + body


def trickle(every_s: float, length: int = 10_000) -> Behaviour:
    """Headers at once, then one byte every `every_s` seconds: no single read ever times out."""
    async def answer(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(head_bytes("200 OK", {"Content-Type": "application/json", "Content-Length": str(length)}))
        writer.write(b"{")
        for _ in range(length - 1):
            await writer.drain()
            await asyncio.sleep(every_s)
            writer.write(b" ")
    return answer


def rate_limited(retry_after: str) -> Behaviour:
    """A 429 with the contract's body and a Retry-After header."""
    body = (b'{"object":"error","ok":false,"status":429,"code":"rate_limit_exceeded",'
            b'"message":"You have exceeded the rate limit for this instance"}')

    async def answer(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(head_bytes("429 Too Many Requests", {
            "Content-Type": "application/json", "Content-Length": str(len(body)), "Retry-After": retry_after,
        }) + body)
    return answer


def huge(total: int, declare: bool) -> Behaviour:
    """A 200 whose body is `total` bytes, written in 64 KiB chunks as the reader takes them
    (never built in memory); with `declare`, Content-Length says so, else it is chunked."""
    async def answer(head: bytes, writer: asyncio.StreamWriter) -> None:
        headers = {"Content-Type": "application/json"}
        headers |= {"Content-Length": str(total)} if declare else {"Transfer-Encoding": "chunked"}
        writer.write(head_bytes("200 OK", headers))
        frame = CHUNK if declare else b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n"
        for _ in range(total // len(CHUNK)):
            writer.write(frame)
            await writer.drain()
        writer.write(b"" if declare else b"0\r\n\r\n")
    return answer


def deep(depth: int) -> Behaviour:
    """A 200 whose JSON is `depth` nested arrays (2·depth bytes)."""
    body = b"[" * depth + b"]" * depth

    async def answer(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(json_reply(body))
    return answer


def many_values(total: int) -> Behaviour:
    """A 200 whose JSON is `[{},{},…]`, `total` bytes: within the size cap, but each 3 bytes
    parse into a 64-byte dict."""
    count = (total - 2) // 3
    body = b"[" + b"{}," * (count - 1) + b"{}]"  # one 16 MiB allocation, not a list of millions

    async def answer(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(json_reply(body))
        await writer.drain()
    return answer


class HostileServer:
    """Serves `behaviour` to every request until stopped; `requests` counts what arrived."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests = 0
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                while True:  # keep-alive: one answer per request head on this connection
                    head = await reader.readuntil(b"\r\n\r\n")
                    self.requests += 1
                    await self.behaviour(head, writer)
                    await writer.drain()
        finally:
            writer.close()

    async def _stop(self) -> None:
        """Cancel every connection still being served (a trickle, a page the client left unread)."""
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve_one, HOST, 0))
        self.url = f"http://{HOST}:{server.sockets[0].getsockname()[1]}"
        self._ready.set()
        self._loop.run_forever()
        server.close()

    def __enter__(self) -> HostileServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile server did not start")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        with contextlib.suppress(TimeoutError):
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
