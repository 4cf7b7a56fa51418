"""An HTTP proxy on 127.0.0.1 that sends each request to one of several upstream servers at
random, as a load balancer in front of an API's servers does. Per request, not per connection:
clients keep connections alive, so a TCP proxy would pin each client to one server.

    with SplitProxy([a.url, b.url], seed=1) as proxy:
        ...  # point the client at proxy.url; proxy.sent counts requests per upstream
"""

from __future__ import annotations

import http.client
import random
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

HOST = "127.0.0.1"
# Hop-by-hop headers, and the length we set ourselves once the body is read.
NOT_FORWARDED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host",
                           "proxy-connection", "te", "trailer", "upgrade"})
TIMEOUT_S = 60.0


class SplitProxy:
    """The proxy, served from a daemon thread; a context manager that stops it."""

    def __init__(self, upstreams: list[str], seed: int | None = None) -> None:
        self.upstreams = [urlsplit(u) for u in upstreams]
        self._rng, self._lock = random.Random(seed), threading.Lock()
        self.sent: Counter[str] = Counter()
        handler = type("Handler", (_Forward,), {"proxy": self})
        self.server = ThreadingHTTPServer((HOST, 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def pick(self) -> tuple[str, int]:
        with self._lock:
            upstream = self._rng.choice(self.upstreams)
            self.sent[upstream.geturl()] += 1
        return upstream.hostname or HOST, upstream.port or 80

    def __enter__(self) -> SplitProxy:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients expect of an API
    proxy: SplitProxy

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_FORWARDED}
        host, port = self.proxy.pick()
        upstream = http.client.HTTPConnection(host, port, timeout=TIMEOUT_S)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            reply = upstream.getresponse()
            payload = reply.read()
        except (OSError, http.client.HTTPException):
            self.close_connection = True  # as the server did: no response at all
            return
        finally:
            upstream.close()
        self.send_response_only(reply.status, reply.reason)
        for name, value in reply.getheaders():
            if name.lower() not in NOT_FORWARDED:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request on stderr would bury the test's output
