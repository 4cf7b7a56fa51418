"""Clients of the key backends (Metlo, Metal): list, create (one-time secret), delete.

They reuse the Metorial client's request path whole (`MetorialClient._call`: concurrency cap,
rate limiter, wait budget, deadline and body caps, retries of GETs and DELETEs on 5xx/timeouts,
and never a blind re-send of a create), and differ only in what the wire looks like: headers,
paths, response shapes and error bodies (Metlo answers errors as bare text, Metal as
`{"error": …}`). A created key's secret goes straight into a SecretValue (CreatedKey).
Only backends the configuration names are opened (their credentials go nowhere else); one that
answers 401 stops the run with its service's message before anything is written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from metorial_apply import __version__
from metorial_apply.api.client import MetorialClient, check_api_url
from metorial_apply.api.limits import RequestLimits, ResponseLimitError
from metorial_apply.api.local import LOCAL_BASE_URL, local_key_transport
from metorial_apply.api.ratelimit import RateLimiter, RateLimitSettings
from metorial_apply.api.responses import (
    ACCEPT_ENCODING,
    Reply,
    invalid_response,
    outcome_unknown,
    server_text,
    with_request_id,
)
from metorial_apply.api.retry import RetryPolicy, Verdict
from metorial_apply.api.stats import CallRecord
from metorial_apply.api.waits import DEFAULT_MAX_WAIT_S, WaitBudget
from metorial_apply.core.errors import ApiCall, ApiError, ApiKeyError, NotFoundError, UsageError, error_class_for
from metorial_apply.core.keys import CreatedKey, KeyBackend, LiveKey
from metorial_apply.core.model import SecretValue
from metorial_apply.core.scrub import SECRETS

MAX_MESSAGE_CHARS = 300
METAL_PAGE = 100
METAL_MAX_PAGES = 100  # Metal pages stop at 100: 10,000 keys, a bound far above any plan's limit
KEY_CALL_KIND = "key_backend"


@dataclass(frozen=True)
class Dialect:
    """What one key service looks like on the wire."""

    label: str  # "Metlo", "Metal"
    list_path: str
    create_path: str
    delete_path: Callable[[LiveKey], str]
    headers: Callable[[str, str | None], dict[str, str]]  # (api_key, client_id) → credential headers
    create_body: Callable[[str, str | None], dict[str, Any]]  # (name, key_for) → body
    read_created: Callable[[Any, str], CreatedKey]  # (create response JSON, backend) → key + secret
    read_listed: Callable[[Any, str], list[LiveKey]]  # (one list response JSON, backend) → keys
    error_message: Callable[[Reply, ApiCall], str]


def _metlo_key(item: Mapping[str, Any], backend: str) -> LiveKey:
    return LiveKey(backend=backend, name=item["name"], identity=item["identifier"], id=item["name"],
                   created=item.get("created"), key_for=item.get("for"))


def _metal_key(item: Mapping[str, Any], backend: str) -> LiveKey:
    return LiveKey(backend=backend, name=item["name"], identity=item["clientId"], id=item["id"],
                   created=item.get("createdAt"), last_four=item.get("keyLastFour"))


class SecretFieldMissing(Exception):
    """A create answer without the secret where we read it: the key exists (the service made it),
    but the field name we expect is not the service's, so its secret cannot be had (issue 22 item 9)."""

    def __init__(self, key: LiveKey | None, fields: list[str], expected: str) -> None:
        super().__init__(expected)
        self.key, self.fields, self.expected = key, fields, expected


def _created(data: Any, backend: str, field: str, key_of: Callable[[Any, str], LiveKey],
             known: frozenset[str]) -> CreatedKey:
    if isinstance(data, Mapping) and field not in data:
        # An unexpected field probably holds the secret: never print it, whatever it is called.
        SECRETS.add(*(value for name, value in data.items() if name not in known))
        try:
            key: LiveKey | None = key_of(data, backend)
        except (KeyError, TypeError, ValueError):
            key = None
        raise SecretFieldMissing(key, sorted(server_text(str(name), 60) for name in data)[:MAX_FIELDS], field)
    return CreatedKey(key=key_of(data, backend), secret=SecretValue(str(data[field])))


MAX_FIELDS = 30  # field names quoted in the error, at most
METLO_FIELDS = frozenset({"name", "identifier", "created", "for"})
METAL_FIELDS = frozenset({"id", "name", "keyLastFour", "clientId", "createdAt"})


def _metlo_created(body: Any, backend: str) -> CreatedKey:
    return _created(body, backend, "apiKey", _metlo_key, METLO_FIELDS)


def _metal_created(body: Any, backend: str) -> CreatedKey:
    return _created(body["data"], backend, "key", _metal_key, METAL_FIELDS)


def _text(reply: Reply, call: ApiCall) -> str:
    text = server_text(reply.content.decode("utf-8", errors="replace").strip(), MAX_MESSAGE_CHARS)
    return text or reply.reason_phrase or "request failed"


def _metal_error(reply: Reply, call: ApiCall) -> str:
    try:
        body = reply.json(call)
    except (ValueError, ResponseLimitError):
        body = None
    message = body.get("error") if isinstance(body, dict) else None
    return server_text(message, MAX_MESSAGE_CHARS) if isinstance(message, str) and message else _text(reply, call)


DIALECTS: dict[str, Dialect] = {
    "metlo": Dialect(
        label="Metlo", list_path="/api/v1/keys/list", create_path="/api/v1/keys/create",
        delete_path=lambda key: f"/api/v1/keys/{quote(key.name, safe='')}/delete",
        headers=lambda key, _client: {"Authorization": key},  # the key itself, no scheme
        create_body=lambda name, key_for: {"name": name} | ({"keyFor": key_for} if key_for else {}),
        read_created=_metlo_created,
        read_listed=lambda body, backend: [_metlo_key(item, backend) for item in body],
        error_message=_text,
    ),
    "metal": Dialect(
        label="Metal", list_path="/v1/keys", create_path="/v1/keys",
        delete_path=lambda key: f"/v1/keys/{quote(key.id, safe='')}",
        headers=lambda key, client: {"x-metal-client-id": client or "", "x-metal-api-key": key},
        create_body=lambda name, _key_for: {"name": name},
        read_created=_metal_created,
        read_listed=lambda body, backend: [_metal_key(item, backend) for item in body["data"]],
        error_message=_metal_error,
    ),
}


def key_headers(dialect: Dialect, api_key: str, client_id: str | None) -> dict[str, str]:
    return dialect.headers(api_key, client_id) | {"User-Agent": f"metorial-apply/{__version__}",
                                                  "Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING}


class KeyBackendClient(MetorialClient):
    """One key backend (a `key_backends:` entry). Use as `async with open_key_client(...)`."""

    def __init__(self, http: httpx.AsyncClient, backend: KeyBackend, dialect: Dialect, **kw: Any) -> None:
        super().__init__(http, "", **kw)
        self.backend, self.dialect = backend, dialect
        self.secretless: ApiError | None = None  # set once a create answered without its secret field

    def __repr__(self) -> str:
        return f"KeyBackendClient(backend={self.backend.name!r}, type={self.backend.type!r})"

    def _call_of(self, method: str, path: str) -> ApiCall:
        return ApiCall(method=method, path=path, kind=KEY_CALL_KIND, name=self.backend.name)

    async def list_keys(self) -> list[LiveKey]:
        """Every key of the backend (foreign ones too), without secrets."""
        if self.backend.type == "metal":
            return await self._metal_pages()
        return await self._read_list(self.dialect.list_path, None)

    async def _metal_pages(self) -> list[LiveKey]:
        keys: list[LiveKey] = []
        budget = self.list_budget()  # the pages of one live read, like a Metorial listing
        for page in range(1, METAL_MAX_PAGES + 1):
            query = {"limit": METAL_PAGE, "page": page, "sort": "_id", "direction": "asc"}
            batch = await self._read_list(self.dialect.list_path, query)
            call = self._call_of("GET", self.dialect.list_path)
            if len(batch) > METAL_PAGE:  # a server that ignores `limit` must not make a run hold its every key
                raise invalid_response(call, None, f"a page of {len(batch):,} keys, for a page of at most {METAL_PAGE}")
            budget.take(call, len(batch), self.stats.bytes_read)
            keys += batch
            if len(batch) < METAL_PAGE:
                return keys
        raise invalid_response(self._call_of("GET", self.dialect.list_path), None,
                               f"more than {METAL_MAX_PAGES} pages of keys")

    async def _read_list(self, path: str, query: Mapping[str, Any] | None) -> list[LiveKey]:
        call = self._call_of("GET", path)
        reply = await self._call(call, query, None, None)
        try:
            return self.dialect.read_listed(reply.json(call), self.backend.name)
        except (ValueError, TypeError, KeyError) as exc:
            raise invalid_response(call, reply, f"a key list of an unexpected shape ({type(exc).__name__})") from None

    async def create_key(self, name: str, key_for: str | None = None) -> CreatedKey:
        """Create once. A lost answer raises OutcomeUnknownError (stamp `{"key-name": name}`): the
        secret is gone with it, so the caller deletes the key by name and creates it again. An answer
        without the secret field is an ApiError `secret_field_missing` (the key deleted again), and
        every later create of this client raises it too, sending nothing."""
        call = self._call_of("POST", self.dialect.create_path)
        if self.secretless is not None:  # another create would only make another key we cannot use
            raise self.secretless
        stamp = {"key-name": name}
        try:
            reply = await self._call(call, None, self.dialect.create_body(name, key_for), stamp)
        except ResponseLimitError as exc:
            raise outcome_unknown(call, stamp, exc=exc) from None
        try:
            created = self.dialect.read_created(reply.json(call), self.backend.name)
        except SecretFieldMissing as missing:
            self.secretless = await self._undo_secretless(call, reply, name, missing)
            raise self.secretless from None
        except (ValueError, TypeError, KeyError, ApiError) as exc:
            cause = exc if isinstance(exc, ApiError) else invalid_response(call, reply, "an unreadable create answer")
            raise outcome_unknown(call, stamp, exc=cause) from None
        SECRETS.add(created.secret.reveal())  # from here on it is one of the run's secrets
        return created

    async def _undo_secretless(self, call: ApiCall, reply: Reply, name: str, missing: SecretFieldMissing) -> ApiError:
        """Delete the key a secretless create made (or say how to find it) and describe the mismatch.
        Not an unknown outcome: recovery would delete and create again, the same answer each time."""
        key, label = missing.key, self.dialect.label
        if key is None:
            fate = f"its id is not in the answer either: delete the {label} key named {name} by hand"
        else:
            try:
                await self.delete_key(key)
                fate = f"the key it made ({key.name}, identity {key.identity}) was deleted"
            except ApiError as exc:
                fate = (f"deleting the key it made failed ({exc.api_message}): delete {key.name} "
                        f"(id {key.id}, identity {key.identity}) in {label} by hand")
        message = (f"key backend {self.backend.name} ({label}): the create answer has no secret field "
                   f"`{missing.expected}`; it has {', '.join(missing.fields) or 'no fields'} (names only: an "
                   f"unexpected one probably holds the secret); {fate}")
        hint = (f"metorial-apply reads {label}'s one-time secret from `{missing.expected}`; no {label} key is "
                "created until that matches what the service answers (report it with the field names above)")
        return ApiError(with_request_id(call, reply), reply.status_code, "secret_field_missing", message, hint=hint)

    async def delete_key(self, key: LiveKey) -> bool:
        """Delete (revoke) a key; False when it was already gone."""
        try:
            await self._call(self._call_of("DELETE", self.dialect.delete_path(key)), None, None, None)
        except NotFoundError:
            return False
        return True

    def _failure(self, call: ApiCall, verdict: Verdict, response: Reply | None,
                 failure: httpx.HTTPError | None, stamp: dict[str, str] | None, attempts: int) -> ApiError:
        if verdict is Verdict.UNKNOWN or response is None:
            return super()._failure(call, verdict, response, failure, stamp, attempts)
        return key_status_error(call, response, self.dialect, self.backend)


def key_status_error(call: ApiCall, reply: Reply, dialect: Dialect, backend: KeyBackend) -> ApiError:
    """A typed error carrying the service's own message (e.g. Metlo's "Client unauthorized")."""
    message = dialect.error_message(reply, call)
    hint = f"check the credentials of key_backends.{backend.name}" if reply.status_code == 401 else None
    where = f"key backend {backend.name} ({dialect.label}): "
    return error_class_for(reply.status_code)(with_request_id(call, reply), reply.status_code,
                                              f"http_{reply.status_code}", where + message, hint=hint)


def _credentials(backend: KeyBackend, local: dict[str, str] | None) -> tuple[str, str | None]:
    """The backend's api key (and Metal client id), header-safe; for `local` the emulator's bootstrap ones."""
    api_key = backend.api_key.reveal() if backend.api_key is not None else (local or {}).get("api_key")
    client = backend.client_id.reveal() if backend.client_id is not None else (local or {}).get("client_id")
    for what, value in (("api_key", api_key), ("client_id", client if backend.type == "metal" else "-")):
        if not isinstance(value, str) or not value:
            raise ApiKeyError(f"key_backends.{backend.name}: no {what}")
        if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
            raise ApiKeyError(f"key_backends.{backend.name}: the {what} contains whitespace or non-printable "
                              "characters")
    return str(api_key), client


def _base(backend: KeyBackend) -> str:
    try:
        return str(check_api_url(backend.url)).rstrip("/")
    except UsageError:
        raise UsageError(f"key_backends.{backend.name}.url must be an http(s) URL or `local`") from None


def open_key_client(backend: KeyBackend, *, state_dir: Path | None = None, budget: WaitBudget | None = None,
                    transport: httpx.AsyncBaseTransport | None = None, retry: RetryPolicy | None = None,
                    limits: RequestLimits | None = None, max_concurrency: int = 4,
                    on_call: Callable[[CallRecord], None] | None = None) -> KeyBackendClient:
    """A client for one backend (checks URL and credentials first, sending nothing). `url: local`
    runs that backend's emulator in-process, its SQLite file beside the Metorial emulator's."""
    dialect = DIALECTS[backend.type]
    on_close = None
    if backend.local:
        transport, local, on_close = local_key_transport(backend.type, state_dir, transport)
        base = LOCAL_BASE_URL
    else:
        local, base = None, _base(backend)
    api_key, client_id = _credentials(backend, local)
    limits = limits or RequestLimits()
    http = httpx.AsyncClient(base_url=base, headers=key_headers(dialect, api_key, client_id), transport=transport,
                             follow_redirects=False, limits=httpx.Limits(max_connections=max_concurrency),
                             timeout=httpx.Timeout(limits.deadline_s, connect=min(limits.deadline_s, 10.0)))
    budget = budget or WaitBudget(DEFAULT_MAX_WAIT_S)
    limiter = RateLimiter(RateLimitSettings(learn=False),
                          sleep=lambda seconds: budget.wait(seconds, "a free slot in the key backend's budget"))
    return KeyBackendClient(http, backend, dialect, base_url=base, limiter=limiter, retry=retry or RetryPolicy(),
                            budget=budget, limits=limits, max_concurrency=max_concurrency, on_call=on_call,
                            on_close=on_close)


KeyClients = dict[str, KeyBackendClient]  # open clients by backend name


@asynccontextmanager
async def key_clients(backends: tuple[KeyBackend, ...], *, state_dir: Path | None = None,
                      budget: WaitBudget | None = None, limits: RequestLimits | None = None,
                      on_call: Callable[[CallRecord], None] | None = None) -> AsyncIterator[KeyClients]:
    """A client for each backend the configuration names (their credentials go nowhere else),
    closed together; `budget` and `limits` are the run's (--max-wait, --timeout and the caps), so
    a key backend waits no longer and reads no more than the Metorial API may."""
    async with AsyncExitStack() as stack:
        yield {b.name: await stack.enter_async_context(open_key_client(b, state_dir=state_dir, budget=budget,
                                                                       limits=limits, on_call=on_call))
               for b in sorted(backends, key=lambda b: b.name)}
