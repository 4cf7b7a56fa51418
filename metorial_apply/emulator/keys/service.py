"""What a key service is to the shared pipeline: its routes, credentials, error shape and bootstrap key.

`metlo.SERVICE` and `metal.SERVICE` are the two entries; the pipeline (app.py) and the admin
routes know nothing else about either service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.responses import Response

from ..store import Store
from .keystore import KeyRow, KeyStore


class KeyState(Protocol):
    """What a service's handlers and bootstrap use of the running key emulator (runtime's
    `KeyEmulator`), declared here so that the services need not import the runtime that runs them."""

    @property
    def store(self) -> Store: ...

    @property
    def keys(self) -> KeyStore: ...

    def revoke(self, row: KeyRow, now: float) -> None: ...

    @property
    def secret_field(self) -> str | None: ...  # Metal: the create answer's secret field, if renamed


@dataclass(frozen=True)
class Credentials:
    """What a request presents: the secret, and for Metal the client id sent with it."""

    api_key: str
    client_id: str | None = None


class KeyApiError(Exception):
    """An error answer; the service renders it in its own shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Call:
    """One authenticated API call, run inside a store transaction."""

    emulator: KeyState
    caller: KeyRow
    params: dict[str, str]
    query: Mapping[str, str]
    body: dict[str, Any]
    now: float


Handler = Callable[[Call], tuple[int, Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str  # e.g. "/api/v1/keys/{name}/delete"
    handler: Handler
    write: bool = False  # a committed 2xx answer may be dropped by the drop fault
    body: bool = False

    @property
    def label(self) -> str:
        return f"{self.method} {self.template}"

    def match(self, method: str, segments: list[str]) -> dict[str, str] | None:
        """Path parameters if `segments` (percent-decoded) fit the template."""
        parts = self.template.strip("/").split("/")
        if method != self.method or len(parts) != len(segments):
            return None
        params: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{") and part.endswith("}"):
                if not segment:
                    return None
                params[part[1:-1]] = segment
            elif part != segment:
                return None
        return params


@dataclass(frozen=True)
class Messages:
    unauthorized: str
    internal_error: str
    rate_limited: str
    invalid_json: str
    no_route: str  # may use {method} and {path}


@dataclass(frozen=True)
class KeyService:
    api: str
    label: str  # "Metlo", "Metal"
    endpoints: tuple[Endpoint, ...]
    credentials: Callable[[Mapping[str, str]], Credentials | None]  # None: a header is missing
    error: Callable[[int, str], Response]
    messages: Messages
    bootstrap: Callable[[KeyState], tuple[KeyRow, str]]  # seeded once per database
    bootstrap_credentials: dict[str, str]  # as printed by `serve`: api_key (and client_id)
    credential_headers: tuple[str, ...]
    uses_client_id: bool = False

    def route(self, method: str, segments: list[str]) -> tuple[Endpoint | None, dict[str, str]]:
        for endpoint in self.endpoints:
            params = endpoint.match(method, segments)
            if params is not None:
                return endpoint, params
        return None, {}

    def credentials_from(self, body: Mapping[str, Any]) -> Credentials | None:
        """Credentials given to the admin `authenticate` route as {api_key, client_id}."""
        api_key, client_id = body.get("api_key"), body.get("client_id")
        if not isinstance(api_key, str) or (self.uses_client_id and not isinstance(client_id, str)):
            return None
        return Credentials(api_key, client_id if self.uses_client_id else None)
