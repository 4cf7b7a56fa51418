"""The async Metorial API client: auth, pagination, rate limit, retries, error mapping, statistics.

One generic list/get/create/update/delete serves every kind (paths come from the KINDS
registry). All HTTP goes through `_call`, which owns the concurrency cap, the shared rate
limiter, retries and the translation of every failure into a typed ApiError.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from metorial_apply import __version__
from metorial_apply.api.defaults import LOCAL
from metorial_apply.api.endpoint import check_api_key, check_api_url
from metorial_apply.api.ends import MAX_PAGES, PAGE_SIZE, Ends, next_cursor
from metorial_apply.api.limits import (
    DeadlineExceeded,
    DeadlineExceededError,
    ListBudget,
    RequestLimits,
    ResponseLimitError,
    listed_caps,
    path_template,
)
from metorial_apply.api.local import local_transport
from metorial_apply.api.ratelimit import RateLimiter, RateLimitSettings, Sleep
from metorial_apply.api.responses import (
    ACCEPT_ENCODING,
    Reply,
    invalid_response,
    json_object,
    outcome_unknown,
    page_of,
    read_reply,
    status_error,
    transport_error,
)
from metorial_apply.api.retry import (
    RetryPolicy,
    Verdict,
    delay_for,
    server_wait,
    verdict_for_exception,
    verdict_for_status,
)
from metorial_apply.api.stats import CallRecord, RequestStats
from metorial_apply.api.tasks import gather_or_cancel
from metorial_apply.api.waits import (
    DEFAULT_MAX_WAIT_S,
    WaitBudget,
    WaitBudgetExceededError,
    WaitBudgetSpent,
    WaitNotice,
)
from metorial_apply.core.errors import (
    ApiCall,
    ApiError,
    ApiKeyError,
)

log = logging.getLogger("metorial_apply.api.client")

API_VERSION = "2026-02-01"
LARGE_BODIES = 2  # bodies past responses.LARGE_BODY read at once: else each list of a live read holds one
PUBLISHABLE_PREFIX = "metorial_pk_"
PUBLISHABLE_MESSAGE = (
    "the key in METORIAL_API_KEY is a publishable key (metorial_pk_…); plan and apply need a "
    "secret key (metorial_sk_…). Create one under Developer → API Keys."
)
# What a live read keeps of one page of a kind (api/keep.py): it decides as pages arrive.
Keep = Callable[[str | None, list[dict[str, Any]]], list[dict[str, Any]]]
LIMITER_WAIT = "a free slot in the API's request budget (shared with the organization's other clients)"


class MetorialClient:
    """Async client for one API base URL and key. Use as `async with open_client(...) as client`."""

    def __init__(self, http: httpx.AsyncClient, api_key: str, *, base_url: str,
                 limiter: RateLimiter, retry: RetryPolicy, budget: WaitBudget, limits: RequestLimits,
                 max_concurrency: int = 8, on_call: Callable[[CallRecord], None] | None = None,
                 rng: random.Random | None = None, on_close: Callable[[], None] | None = None) -> None:
        self._http = http
        self._on_close = on_close  # releases the in-process emulator's database
        self._key = api_key
        self.base_url = base_url
        self.limiter = limiter
        self.retry = retry
        self.budget = budget  # every sleep of the run goes through it (the limiter's too)
        self.limits = limits
        self._slots = asyncio.Semaphore(max_concurrency)
        self._large = asyncio.Semaphore(LARGE_BODIES)
        self._on_call = on_call
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

    def list_budget(self) -> ListBudget:
        """A fresh budget for one live read (RequestLimits' listed objects and bytes)."""
        return ListBudget(self.limits.max_listed_objects, self.limits.max_listed_bytes, self.stats.bytes_read)

    async def list_all(self, path: str, params: Mapping[str, Any] | None = None, *,
                       kind: str | None = None, budget: ListBudget | None = None,
                       keep: Keep | None = None) -> list[dict[str, Any]]:
        """Every item of a collection: pages of 100, following `after=<last id>` while has_more_after,
        within `budget` (a fresh one when None) across pages; `keep(kind, page)` is what is kept
        of each page as it arrives (all of it when None)."""
        items: list[dict[str, Any]] = []
        after: str | None = None
        call = ApiCall(method="GET", path=path, kind=kind)
        budget = budget or self.list_budget()
        for pages in range(1, MAX_PAGES + 1):
            query = {**(params or {}), "limit": PAGE_SIZE} | ({"after": after} if after else {})
            body = await self._page(path, query, kind)
            batch, more = page_of(call, body)
            count, last = len(batch), batch[-1].get("id") if batch else None
            items.extend(keep(kind, batch) if keep is not None else batch)
            # The parsed page goes now: not held while the next page is awaited (the lists of a live
            # read run at once), nor by the traceback of a budget error (each list that fails after
            # the first would keep its page): against a hostile server, hundreds of MiB.
            del body, batch
            budget.take(call, count, self.stats.bytes_read)
            if not more or not count:
                self.stats.chain(kind or path, pages)
                return items
            after = next_cursor(call, last, after)
        raise invalid_response(call, None, f"more than {MAX_PAGES} pages")

    async def list_ends(self, path: str, params: Mapping[str, Any] | None = None, *,
                        kind: str | None = None, budget: ListBudget | None = None,
                        keep: Keep | None = None) -> list[dict[str, Any]]:
        """`list_all`'s items, read from both ends at once when there is more than one page
        (api/ends.py): about half the pages in a row, for at most a call or two more."""
        ends = Ends(ApiCall(method="GET", path=path, kind=kind), lambda query: self._page(path, query, kind),
                    (lambda page: keep(kind, page)) if keep is not None else (lambda page: page),
                    budget or self.list_budget(), lambda: self.stats.bytes_read, params or {})
        try:
            return await ends.read()
        finally:
            self.stats.chain(kind or path, ends.chain)

    async def _page(self, path: str, query: Mapping[str, Any], kind: str | None) -> dict[str, Any]:
        body = await self._json("GET", path, params=query, kind=kind)
        self.stats.pages += 1
        return body

    async def list_many(self, paths: Mapping[str, str | None] | list[str], keep: Keep | None = None, *,
                        ends: bool = False) -> dict[str, list[dict[str, Any]]]:
        """Several collections at once (concurrently); `paths` maps path → kind, or is a list of
        paths; with `ends`, each is read from both ends (`list_ends`)."""
        pairs = list(paths.items()) if isinstance(paths, Mapping) else [(p, None) for p in paths]
        budget = self.list_budget()  # one live read: the lists share it
        read = self.list_ends if ends else self.list_all
        results = await gather_or_cancel(*(read(p, kind=k, budget=budget, keep=keep) for p, k in pairs))
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
        creating = stamp is not None and method == "POST"
        try:
            response = await self._call(call, params, body, stamp)
        except ResponseLimitError as exc:
            if creating:  # an answer arrived, so the create may have happened: the stamp finds it
                raise outcome_unknown(call, stamp or {}, exc=exc) from None
            raise
        if creating:
            try:
                return json_object(call, response)
            except ApiError as exc:
                # The create happened but its id is unreadable: the stamp finds it.
                raise outcome_unknown(call, stamp or {}, exc=exc) from None
        return json_object(call, response)

    async def _call(self, call: ApiCall, params: Mapping[str, Any] | None, body: Mapping[str, Any] | None,
                    stamp: dict[str, str] | None) -> Reply:
        """Send with retries; return a 2xx reply or raise a typed error. Records stats and CallRecord.
        429s are retried while the run's wait budget lasts; other failures `max_attempts` times."""
        if call.method != "GET":
            self.require_secret_key()  # before anything is sent
        started, status, tries, retries = time.monotonic(), None, Counter[bool](), 0
        try:
            for _ in range(self.retry.max_attempts + self.retry.max_rate_limited_attempts):
                response, failure = await self._attempt(call, params, body)
                status = response.status_code if response is not None else None
                if response is not None and response.is_success:
                    return response
                tries[status == 429] += 1
                attempt = tries[status == 429]
                verdict, delay = self._verdict(call.method, response, failure, attempt)
                if verdict is not Verdict.RETRY:
                    raise self._failure(call, verdict, response, failure, stamp, tries[False])
                retries += 1
                self.stats.retries += 1
                log.debug("retrying %s %s after %s in %.2fs", call.method, call.path,
                          status or type(failure).__name__, delay)
                await self.budget.wait(delay, self._waiting_for(call, response, failure, attempt))
            raise AssertionError("unreachable: the verdicts stop within the attempts")
        except WaitBudgetSpent as spent:
            raise WaitBudgetExceededError(ApiCall(call.method, path_template(call.path), call.kind, call.name),
                                          spent) from None
        finally:
            self._record(call, status, time.monotonic() - started, retries)

    async def _attempt(self, call: ApiCall, params: Mapping[str, Any] | None,
                       body: Mapping[str, Any] | None) -> tuple[Reply | None, httpx.HTTPError | None]:
        """One HTTP exchange under the concurrency cap and the rate limiter; never raises httpx
        errors (a passed deadline is DeadlineExceeded, an httpx timeout), only a body over a limit."""
        async with self._slots:
            seq = await self.limiter.acquire()
            reply: Reply | None = None
            try:
                reply = await self._exchange(call, params, body)
            except httpx.HTTPError as exc:
                return None, exc
            finally:
                self.limiter.release(seq, reply.headers if reply is not None else None,
                                     reply.status_code if reply is not None else None)
        if reply.status_code == 429:
            self.stats.rate_limited += 1
        return reply, None

    async def _exchange(self, call: ApiCall, params: Mapping[str, Any] | None,
                        body: Mapping[str, Any] | None) -> Reply:
        """Send and read the whole response within the deadline: httpx's timeouts bound each
        read, not a body that trickles in one byte at a time."""
        request = self._http.build_request(call.method, call.path, params=dict(params) if params else None,
                                           json=dict(body) if body is not None else None)
        try:
            async with asyncio.timeout(self.limits.deadline_s):
                response = await self._http.send(request, stream=True)
                try:
                    reply = await read_reply(call, response, self.limits, self._large)
                    self.stats.bytes_read += len(reply.content)
                    return reply
                finally:
                    await response.aclose()
        except TimeoutError:
            raise DeadlineExceeded("the request's deadline passed", request=request) from None

    def _verdict(self, method: str, response: Reply | None, failure: httpx.HTTPError | None,
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

    def _waiting_for(self, call: ApiCall, response: Reply | None, failure: httpx.HTTPError | None,
                     attempt: int) -> str:
        """What a retry waits for, for the notices and the budget error (no ids, no query)."""
        what = f"{call.method} {path_template(call.path)}"
        if response is not None and response.status_code == 429:
            asked = server_wait(response.headers)
            hint = (f"the server asked for {asked:.0f} s, believed up to {self.retry.max_rate_limit_wait_s:g} s"
                    if asked is not None else "no wait hint, backing off")
            return f"a rate-limited {what} to be accepted (429; {hint})"
        cause = f"a {response.status_code}" if response is not None else f"a {type(failure).__name__}"
        return f"a retry of {what} after {cause} (attempt {attempt + 1} of {self.retry.max_attempts})"

    def _failure(self, call: ApiCall, verdict: Verdict, response: Reply | None,
                 failure: httpx.HTTPError | None, stamp: dict[str, str] | None, attempts: int) -> ApiError:
        if verdict is Verdict.UNKNOWN:
            return outcome_unknown(call, stamp or {}, response=response, exc=failure)
        if response is not None:
            return status_error(call, response)
        assert failure is not None
        if isinstance(failure, DeadlineExceeded):
            return DeadlineExceededError(call, self.limits.deadline_s, attempts)
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


def _headers(api_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api_key}",
        "Metorial-Version": API_VERSION,
        "User-Agent": f"metorial-apply/{__version__}",
        "Accept": "application/json",
        "Accept-Encoding": ACCEPT_ENCODING,
    }


def open_client(api_url: str, api_key: str | None, *, state_dir: Path | None = None,
                rate_limit: RateLimitSettings | None = None,
                on_call: Callable[[CallRecord], None] | None = None, retry: RetryPolicy | None = None,
                max_concurrency: int = 8, timeout_s: float = 30.0, limits: RequestLimits | None = None,
                max_wait_s: float = DEFAULT_MAX_WAIT_S, on_wait: Callable[[WaitNotice], None] | None = None,
                transport: httpx.AsyncBaseTransport | None = None, sleep: Sleep = asyncio.sleep,
                clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None) -> MetorialClient:
    """Build a client (checks URL and key first, sending nothing). `api_url="local"` runs the
    emulator in-process with its SQLite file in `state_dir` (in memory when state_dir is None).
    `timeout_s` is each request's total deadline unless `limits` says otherwise; the run waits
    at most `max_wait_s` in all, telling `on_wait` every 10 s of it."""
    on_close = None
    if api_url == LOCAL:
        transport, api_key, base, on_close = local_transport(state_dir, api_key, transport)
    else:
        base = str(check_api_url(api_url)).rstrip("/")
    key = check_api_key(api_key)
    limits = limits or RequestLimits(deadline_s=timeout_s, **listed_caps(os.environ))
    # One kept-alive connection per concurrent request: httpx keeps only 20 by default, so at
    # a higher --parallelism every call beyond 20 would open (and close) a connection of its own.
    pool = httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency)
    http = httpx.AsyncClient(
        base_url=base, headers=_headers(key), transport=transport, follow_redirects=False,
        timeout=httpx.Timeout(limits.deadline_s, connect=min(limits.deadline_s, 10.0)), limits=pool,
    )
    budget = WaitBudget(max_wait_s, clock=clock, sleep=sleep, on_notice=on_wait)
    limiter = RateLimiter(rate_limit, clock=clock, sleep=lambda seconds: budget.wait(seconds, LIMITER_WAIT))
    return MetorialClient(http, key, base_url=base if api_url != LOCAL else LOCAL, limiter=limiter,
                          retry=retry or RetryPolicy(), budget=budget, limits=limits,
                          max_concurrency=max_concurrency, on_call=on_call, rng=rng, on_close=on_close)
