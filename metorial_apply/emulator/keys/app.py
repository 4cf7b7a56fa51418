"""The key emulators as ASGI apps: one pipeline, the service (Metlo or Metal) plugged in.

Pipeline for an API request: draw faults → sleep (latency) → authenticate (401) → 429 burst
→ route (404) → 500 fault (before executing, so nothing is committed) → body (400) → execute
in one transaction → maybe drop the committed answer.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..faults import FaultPlan
from ..transport import DroppedResponse
from . import metal, metlo
from .admin import admin_routes
from .runtime import KeyEmulator, KeySettings
from .service import Call, Endpoint, KeyApiError, KeyService

SERVICES: dict[str, KeyService] = {"metlo": metlo.SERVICE, "metal": metal.SERVICE}
METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"]


def path_segments(request: Request) -> list[str]:
    """Percent-decoded segments of the raw path, so an encoded `/` stays inside its segment."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.split(b"?", 1)[0].decode("latin-1")
    return [unquote(part) for part in path.strip("/").split("/")]


async def read_body(request: Request, service: KeyService) -> dict[str, Any]:
    """A JSON object body; empty or non-object bodies read as {}, invalid JSON is a 400."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise KeyApiError(400, service.messages.invalid_json) from None
    return body if isinstance(body, dict) else {}


async def _handle(
    em: KeyEmulator, request: Request, endpoint: Endpoint | None, params: dict[str, str], plan: FaultPlan
) -> tuple[int, Any, bool]:
    """(status, body, drop?) of one call; raises KeyApiError."""
    service = em.service
    if em.authenticate(service.credentials(request.headers)) is None:
        raise KeyApiError(401, service.messages.unauthorized)
    if plan.burst_429:
        raise KeyApiError(429, service.messages.rate_limited)
    if endpoint is None:
        raise KeyApiError(404, service.messages.no_route.format(method=request.method, path=request.url.path))
    if plan.error:
        raise KeyApiError(500, service.messages.internal_error)
    body = await read_body(request, service) if endpoint.body else {}
    with em.store.transaction():
        # Authenticated again inside the transaction: a concurrent delete of the caller counts.
        caller = em.authenticate(service.credentials(request.headers))
        if caller is None:
            raise KeyApiError(401, service.messages.unauthorized)
        status, payload = endpoint.handler(Call(em, caller, params, request.query_params, body, em.clock()))
    return status, payload, endpoint.write and status < 300 and em.faults.take_drop(plan.drop)


async def api_endpoint(request: Request) -> Response:
    em: KeyEmulator = request.app.state.key_emulator
    endpoint, params = em.service.route(request.method, path_segments(request))
    plan = em.faults.draw()
    if plan.delay_seconds > 0:
        await asyncio.sleep(plan.delay_seconds)
    try:
        status, payload, drop = await _handle(em, request, endpoint, params, plan)
        response: Response = JSONResponse(payload, status_code=status)
    except KeyApiError as exc:
        drop, response = False, em.service.error(exc.status, exc.message)
    em.count_call(endpoint.label if endpoint else f"{request.method} (unknown route)", response.status_code)
    return DroppedResponse() if drop else response


def create_key_app(settings: KeySettings | None = None) -> Starlette:
    """A key emulator (`settings.api`: metlo or metal) as an ASGI app; `app.state.key_emulator`."""
    settings = settings or KeySettings()
    emulator = KeyEmulator(settings, SERVICES[settings.api])
    app = Starlette(routes=[*admin_routes(), Route("/{path:path}", api_endpoint, methods=METHODS)])
    app.state.key_emulator = emulator
    return app


def key_emulator_of(app: Starlette) -> KeyEmulator:
    """The in-process handle for stats, faults, keys and reset without HTTP."""
    return app.state.key_emulator  # type: ignore[no-any-return]


def local_key_app(api: str, state_dir: Path | None) -> Starlette:
    """The emulator `url: local` runs in-process: state in `state_dir/<api>-emulator.sqlite3`."""
    db_path = None
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        db_path = str(state_dir / f"{api}-emulator.sqlite3")
    return create_key_app(KeySettings(api=api, db_path=db_path))


def bootstrap_credentials(api: str) -> dict[str, str]:
    """The well-known admin credentials each fresh emulator accepts (`api_key`, Metal's `client_id`)."""
    return dict(SERVICES[api].bootstrap_credentials)
