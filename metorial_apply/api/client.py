"""The async Metorial API client: auth, pagination, rate limit, retries, error mapping, statistics.

One generic list/get/create/update/delete serves every kind (paths come from the KINDS
registry). All HTTP goes through `_call`, which owns the concurrency cap, the shared rate
limiter, retries and the translation of every failure into a typed ApiError.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from metorial_apply import __version__
from metorial_apply.api.ratelimit import RateLimiter, RateLimitSettings, Sleep
from metorial_apply.api.responses import (
    invalid_response,
    json_object,
    outcome_unknown,
    status_error,
    transport_error,
)
from metorial_apply.api.retry import RetryPolicy, Verdict, delay_for, verdict_for_exception, verdict_for_status
from metorial_apply.core.errors import (
    ApiCall,
    ApiError,
    ApiKeyError,
    InsecureTransportError,
    UsageError,
)

log = logging.getLogger("metorial_apply.api.client")

DEFAULT_API_URL = "https://api.metorial.com"
API_VERSION = "2026-02-01"
PAGE_SIZE = 100
MAX_PAGES = 10_000  # 1,000,000 objects of one kind: a bound, not an expectation
LOCAL = "local"
LOCAL_BASE_URL = "http://emulator.local"
PUBLISHABLE_PREFIX = "metorial_pk_"
PUBLISHABLE_MESSAGE = (
    "the key in METORIAL_API_KEY is a publishable key (metorial_pk_…); plan and apply need a "
    "secret key (metorial_sk_…). Create one under Developer → API Keys."
)


@dataclass(frozen=True)
class CallRecord:
    """One finished API call (all its attempts), for journals and observers."""

    method: str
    path: str
    kind: str | None
    name: str | None
    status: int | None  # None when no response arrived
    duration_s: float
    retries: int


@dataclass
class RequestStats:
    """Counters for `--stats`: calls by method and kind, pages, retries, 429s, wall time."""

    by_method: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)  # kind, or the path for catalog calls
    pages: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429 responses received (each retried or raised)
    limiter_wait_s: float = 0.0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def calls(self) -> int:
        return sum(self.by_method.values())

    @property
    def elapsed_s(self) -> float:
        return (self.finished if self.finished is not None else time.monotonic()) - self.started

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls, "by_method": dict(sorted(self.by_method.items())),
            "by_kind": dict(sorted(self.by_kind.items())), "pages": self.pages, "retries": self.retries,
            "rate_limited": self.rate_limited, "limiter_wait_s": round(self.limiter_wait_s, 3),
            "elapsed_s": round(self.elapsed_s, 3),
        }


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(api_url: str) -> httpx.URL:
    """An http(s) base URL; plain http only to a loopback host, since the key would travel in clear."""
    try:
        url = httpx.URL(api_url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise UsageError("--api-url must be an http(s) URL or `local`") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise UsageError("--api-url must be an http(s) URL or `local`")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise InsecureTransportError(
            f"refusing to send the API key over plain http to {url.host}; use https "
            "(plain http is allowed only for 127.0.0.1, ::1 and localhost)"
        )
    if url.userinfo or url.query:
        raise UsageError("--api-url must not contain credentials or a query string")
    return url


def check_api_key(api_key: str | None) -> str:
    """A present, header-safe key; the message names where it comes from, never its value."""
    if not api_key:
        raise ApiKeyError("no API key: set METORIAL_API_KEY or pass --api-key (a secret key, metorial_sk_…)")
    if not api_key.isascii() or not api_key.isprintable() or any(c.isspace() for c in api_key):
        raise ApiKeyError("the API key contains whitespace or non-printable characters; check METORIAL_API_KEY")
    return api_key


class MetorialClient:
    """Async client for one API base URL and key. Use as `async with open_client(...) as client`."""

    def __init__(self, http: httpx.AsyncClient, api_key: str, *, base_url: str,
                 limiter: RateLimiter, retry: RetryPolicy, max_concurrency: int = 8,
                 on_call: Callable[[CallRecord], None] | None = None, sleep: Sleep = asyncio.sleep,
                 rng: random.Random | None = None, on_close: Callable[[], None] | None = None) -> None:
        self._http = http
        self._on_close = on_close  # releases the in-process emulator's database
        self._key = api_key
        self.base_url = base_url
        self.limiter = limiter
        self.retry = retry
        self._slots = asyncio.Semaphore(max_concurrency)
        self._on_call = on_call
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.stats = RequestStats()

    def __repr__(self) -> str:
        return f"MetorialClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> MetorialClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self.stats.finished = time.monotonic()
        self.stats.limiter_wait_s = self.limiter.waited_s
        await self._http.aclose()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    @property
    def publishable(self) -> bool:
        return self._key.startswith(PUBLISHABLE_PREFIX)

    def require_secret_key(self) -> None:
        """Raise ApiKeyError unless the key can read and write managed kinds (plan and apply need that)."""
        if self.publishable:
            raise ApiKeyError(PUBLISHABLE_MESSAGE)

    # -- public operations ------------------------------------------------------------------

    async def list_all(self, path: str, params: Mapping[str, Any] | None = None, *,
                       kind: str | None = None) -> list[dict[str, Any]]:
        """Every item of a collection: pages of 100, following `after=<last id>` while has_more_after."""
        items: list[dict[str, Any]] = []
        after: str | None = None
        call = ApiCall(method="GET", path=path, kind=kind)
        for _ in range(MAX_PAGES):
            query = {**(params or {}), "limit": PAGE_SIZE} | ({"after": after} if after else {})
            body = await self._json("GET", path, params=query, kind=kind)
            self.stats.pages += 1
            batch, more = _page(call, body)
            items.extend(batch)
            if not more or not batch:
                return items
            last = batch[-1].get("id")
            if not isinstance(last, str) or last == after:
                raise invalid_response(call, None, "pagination did not advance")
            after = last
        raise invalid_response(call, None, f"more than {MAX_PAGES} pages")

    async def list_many(self, paths: Mapping[str, str | None] | list[str]) -> dict[str, list[dict[str, Any]]]:
        """Several collections at once (concurrently); `paths` maps path → kind, or is a list of paths."""
        pairs = list(paths.items()) if isinstance(paths, Mapping) else [(p, None) for p in paths]
        results = await asyncio.gather(*(self.list_all(p, kind=k) for p, k in pairs))
        return dict(zip((p for p, _ in pairs), results, strict=False))

    async def get(self, path: str, id: str, *, kind: str | None = None, name: str | None = None) -> dict[str, Any]:
        """One object by id (archived objects too)."""
        return await self._json("GET", _item(path, id), kind=kind, name=name)

    async def read(
        self, path: str, params: Mapping[str, Any] | None = None, *, kind: str | None = None
    ) -> dict[str, Any]:
        """A non-collection GET such as `/provider-config-schema?provider_id=…`."""
        return await self._json("GET", path, params=params, kind=kind)

    async def create(self, path: str, body: Mapping[str, Any], *, kind: str, name: str,
                     stamp: Mapping[str, str]) -> dict[str, Any]:
        """POST once. A lost response raises OutcomeUnknownError carrying `stamp`; it is never re-sent."""
        return await self._json("POST", path, body=body, kind=kind, name=name, stamp=dict(stamp))

    async def update(self, path: str, id: str, body: Mapping[str, Any], *, kind: str, name: str) -> dict[str, Any]:
        """PATCH (full values, so a retry is safe)."""
        return await self._json("PATCH", _item(path, id), body=body, kind=kind, name=name)

    async def delete(self, path: str, id: str, *, kind: str, name: str) -> dict[str, Any]:
        """DELETE (archive). NotFoundError/GoneError mean it is already gone; the caller decides."""
        return await self._json("DELETE", _item(path, id), kind=kind, name=name)

    # -- the one request path ---------------------------------------------------------------

    async def _json(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                    body: Mapping[str, Any] | None = None, kind: str | None = None, name: str | None = None,
                    stamp: dict[str, str] | None = None) -> dict[str, Any]:
        call = ApiCall(method=method, path=path, kind=kind, name=name)
        response = await self._call(call, params, body, stamp)
        if stamp is not None and method == "POST":
            try:
                return json_object(call, response)
            except ApiError:
                # The create happened but its id is unreadable: the stamp finds it.
                raise outcome_unknown(call, stamp, response=response) from None
        return json_object(call, response)

    async def _call(self, call: ApiCall, params: Mapping[str, Any] | None, body: Mapping[str, Any] | None,
                    stamp: dict[str, str] | None) -> httpx.Response:
        """Send with retries; return a 2xx response or raise a typed error. Records stats and CallRecord."""
        if call.method != "GET":
            self.require_secret_key()  # before anything is sent
        started, retries, status = time.monotonic(), 0, None
        try:
            for attempt in range(1, self.retry.max_attempts + 1):
                response, failure = await self._attempt(call, params, body)
                status = response.status_code if response is not None else None
                if response is not None and response.is_success:
                    return response
                verdict, delay = self._verdict(call.method, response, failure, attempt)
                if verdict is not Verdict.RETRY:
                    raise self._failure(call, verdict, response, failure, stamp)
                retries += 1
                self.stats.retries += 1
                log.debug("retrying %s %s after %s in %.2fs (attempt %d of %d)", call.method, call.path,
                          status or type(failure).__name__, delay, attempt + 1, self.retry.max_attempts)
                await self._sleep(delay)
            raise AssertionError("unreachable: the verdict stops at max_attempts")
        finally:
            self._record(call, status, time.monotonic() - started, retries)

    async def _attempt(self, call: ApiCall, params: Mapping[str, Any] | None,
                       body: Mapping[str, Any] | None) -> tuple[httpx.Response | None, httpx.HTTPError | None]:
        """One HTTP exchange under the concurrency cap and the rate limiter; never raises httpx errors."""
        async with self._slots:
            seq = await self.limiter.acquire()
            response: httpx.Response | None = None
            try:
                response = await self._http.request(
                    call.method, call.path, params=dict(params) if params else None,
                    json=dict(body) if body is not None else None,
                )
            except httpx.HTTPError as exc:
                return None, exc
            finally:
                self.limiter.release(seq, response.headers if response is not None else None,
                                     response.status_code if response is not None else None)
        if response.status_code == 429:
            self.stats.rate_limited += 1
        return response, None

    def _verdict(self, method: str, response: httpx.Response | None, failure: httpx.HTTPError | None,
                 attempt: int) -> tuple[Verdict, float]:
        if response is not None:
            verdict = verdict_for_status(method, response.status_code, attempt, self.retry)
            headers: Mapping[str, str] = response.headers
            status: int | None = response.status_code
        else:
            assert failure is not None
            verdict = verdict_for_exception(method, failure, attempt, self.retry)
            headers, status = {}, None
        delay = delay_for(status, headers, attempt, self.retry, self._rng) if verdict is Verdict.RETRY else 0.0
        return verdict, delay

    def _failure(self, call: ApiCall, verdict: Verdict, response: httpx.Response | None,
                 failure: httpx.HTTPError | None, stamp: dict[str, str] | None) -> ApiError:
        if verdict is Verdict.UNKNOWN:
            return outcome_unknown(call, stamp or {}, response=response, exc=failure)
        if response is not None:
            return status_error(call, response)
        assert failure is not None
        return transport_error(call, failure)

    def _record(self, call: ApiCall, status: int | None, duration: float, retries: int) -> None:
        self.stats.by_method[call.method] += 1
        self.stats.by_kind[call.kind or _collection(call.path)] += 1
        log.debug("%s %s -> %s in %.3fs (retries %d)", call.method, call.path, status, duration, retries)
        if self._on_call is not None:
            self._on_call(CallRecord(method=call.method, path=call.path, kind=call.kind, name=call.name,
                                     status=status, duration_s=duration, retries=retries))


def _item(path: str, id: str) -> str:
    return f"{path.rstrip('/')}/{quote(id, safe='')}"


def _collection(path: str) -> str:
    return "/" + path.strip("/").split("/")[0]


def _page(call: ApiCall, body: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    items = body.get("items")
    pagination = body.get("pagination")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise invalid_response(call, None, "a list response without an `items` array of objects")
    more = isinstance(pagination, dict) and pagination.get("has_more_after") is True
    return items, more


def _headers(api_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api_key}",
        "Metorial-Version": API_VERSION,
        "User-Agent": f"metorial-apply/{__version__}",
        "Accept": "application/json",
    }


def open_client(api_url: str, api_key: str | None, *, state_dir: Path | None = None,
                rate_limit: RateLimitSettings | None = None,
                on_call: Callable[[CallRecord], None] | None = None, retry: RetryPolicy | None = None,
                max_concurrency: int = 8, timeout_s: float = 30.0,
                transport: httpx.AsyncBaseTransport | None = None, sleep: Sleep = asyncio.sleep,
                clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None) -> MetorialClient:
    """Build a client (checks URL and key first, sending nothing). `api_url="local"` runs the
    emulator in-process with its SQLite file in `state_dir` (in memory when state_dir is None)."""
    on_close = None
    if api_url == LOCAL:
        transport, api_key, base, on_close = _local(state_dir, api_key, transport)
    else:
        base = str(check_api_url(api_url)).rstrip("/")
    key = check_api_key(api_key)
    # One kept-alive connection per concurrent request: httpx keeps only 20 by default, so at
    # a higher --parallelism every call beyond 20 would open (and close) a connection of its own.
    limits = httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency)
    http = httpx.AsyncClient(
        base_url=base, headers=_headers(key), transport=transport, follow_redirects=False,
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)), limits=limits,
    )
    limiter = RateLimiter(rate_limit, clock=clock, sleep=sleep)
    return MetorialClient(http, key, base_url=base if api_url != LOCAL else LOCAL, limiter=limiter,
                          retry=retry or RetryPolicy(), max_concurrency=max_concurrency, on_call=on_call,
                          sleep=sleep, rng=rng, on_close=on_close)


def _local(
    state_dir: Path | None, api_key: str | None, transport: httpx.AsyncBaseTransport | None
) -> tuple[httpx.AsyncBaseTransport, str, str, Callable[[], None] | None]:
    """The in-process emulator: imported lazily, since only `local` needs it."""
    from metorial_apply import emulator

    if transport is not None:
        return transport, api_key or emulator.DEFAULT_SECRET_KEY, LOCAL_BASE_URL, None
    db_path = None
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        db_path = str(state_dir / "emulator.sqlite3")
    app = emulator.create_app(emulator.EmulatorSettings(db_path=db_path))
    close = emulator.emulator_of(app).close
    return emulator.asgi_transport(app), api_key or emulator.DEFAULT_SECRET_KEY, LOCAL_BASE_URL, close
