"""Admin routes of the key emulators under `/_emulator/`: stats, faults, keys, authenticate, reset.

Loopback clients only; never faulted or counted. A request carrying the service's credential
headers is an API client, and the API has no such path: it gets the service's 404.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..admin import LOOPBACK
from ..choices import ADMIN_PREFIX
from .runtime import check_delay

if TYPE_CHECKING:
    from .runtime import KeyEmulator

Handler = Callable[["KeyEmulator", Request, dict[str, Any]], Any]


def _admin(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        em: KeyEmulator = request.app.state.key_emulator
        if any(h in request.headers for h in em.service.credential_headers):
            message = em.service.messages.no_route.format(method=request.method, path=request.url.path)
            return em.service.error(404, message)
        if request.client is not None and request.client.host not in LOOPBACK:
            return JSONResponse({"error": "The emulator's admin routes answer loopback clients only"}, 403)
        try:
            raw = await request.body()
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("Expected a JSON object")
            return JSONResponse(handler(em, request, body))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, 400)

    return endpoint


def get_stats(em: KeyEmulator, request: Request, body: dict[str, Any]) -> Any:
    return em.stats()


def get_faults(em: KeyEmulator, request: Request, body: dict[str, Any]) -> Any:
    return {**em.faults.snapshot(), "revoke_delay_ms": em.revoke_delay_ms, "secret_field": em.secret_field}


def put_faults(em: KeyEmulator, request: Request, body: dict[str, Any]) -> Any:
    """Any FaultSettings field, `seed`, `burst_429_next`/`error_next`/`drop_next`, `revoke_delay_ms`,
    and for Metal `secret_field` (the create answer's secret under another name; null: `key`)."""
    delay = check_delay(body.pop("revoke_delay_ms")) if "revoke_delay_ms" in body else em.revoke_delay_ms
    field = _secret_field(em, body.pop("secret_field")) if "secret_field" in body else em.secret_field
    em.faults.configure(body)  # validates everything before anything changes
    em.revoke_delay_ms, em.secret_field = delay, field
    return get_faults(em, request, {})


def _secret_field(em: KeyEmulator, value: Any) -> str | None:
    if em.service.api != "metal":
        raise ValueError("secret_field applies to the Metal emulator only")
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError("secret_field must be a non-empty string or null")
    return value


def get_keys(em: KeyEmulator, request: Request, body: dict[str, Any]) -> Any:
    """Every stored key (deleted ones still in their window too): names and identities, never secrets."""
    items = em.key_views()
    return {"count": len(items), "items": items}


def post_authenticate(em: KeyEmulator, request: Request, body: dict[str, Any]) -> Any:
    """`{"api_key": …, "client_id": …}` → whether the API would accept them right now, and as which key."""
    row = em.authenticate(em.service.credentials_from(body))
    return {"ok": row is not None, "name": row.name if row else None, "identity": row.identity if row else None}


def post_reset(em: KeyEmulator, request: Request, body: dict[str, Any]) -> Any:
    em.reset()
    return {"ok": True}


def admin_routes() -> list[Route]:
    table: list[tuple[str, str, Handler]] = [
        ("/stats", "GET", get_stats), ("/faults", "GET", get_faults), ("/faults", "PUT", put_faults),
        ("/keys", "GET", get_keys), ("/authenticate", "POST", post_authenticate), ("/reset", "POST", post_reset),
    ]
    return [Route(ADMIN_PREFIX + path, _admin(handler), methods=[method]) for path, method, handler in table]
