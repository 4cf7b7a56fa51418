"""The ASGI app: auth, rate limit, faults, body parsing, the response envelope and headers.

Pipeline for an API request: draw faults → sleep (latency) → authenticate (401) → rate
limit (429, counted after auth) → 429 burst → route (404) → key type (403) → 500 fault
(before executing, so nothing is committed) → body (400) → execute → maybe 500 after the
commit → maybe drop.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .admin import admin_routes
from .crud import Route as ApiRoute
from .crud import execute, match_route
from .errors import (
    ApiError,
    bad_request,
    forbidden,
    internal_error,
    invalid_field,
    rate_limited,
    route_not_found,
    unauthorized,
)
from .faults import FaultPlan
from .listing import Query
from .runtime import Emulator
from .settings import EmulatorSettings
from .transport import DroppedResponse

METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"]


def authenticate(em: Emulator, header: str | None) -> str:
    """`Bearer <key>` (exactly) → "secret" | "publishable"; 401 otherwise."""
    if header is None:
        raise unauthorized("Missing Authorization header")
    scheme, _, key = header.partition(" ")
    if scheme != "Bearer" or not key or key != key.strip() or " " in key or not key.startswith("metorial_"):
        raise unauthorized("Malformed Authorization header")
    if key in em.secret_keys:
        return "secret"
    if key in em.publishable_keys:
        return "publishable"
    raise unauthorized("Invalid API key")


def query_dict(request: Request) -> Query:
    """Repeated and `name[]` parameters both become lists."""
    query: Query = {}
    for key, value in request.query_params.multi_items():
        query.setdefault(key[:-2] if key.endswith("[]") else key, []).append(value)
    return query


async def read_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    if content_type == "multipart/form-data":
        try:
            form = await request.form()
        except AssertionError:  # python-multipart is not installed
            raise bad_request("multipart/form-data bodies are not supported here; send JSON") from None
        return {k: v for k, v in form.items() if isinstance(v, str)}
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise bad_request("Unsupported Content-Type; send application/json")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise invalid_field([], "invalid_type", "Expected object")
    return body


async def _handle(
    em: Emulator, request: Request, route: ApiRoute | None, plan: FaultPlan, headers: dict[str, str]
) -> tuple[dict[str, Any], bool]:
    """Run one authenticated API call → (200 body, drop?). Raises ApiError."""
    key_type = authenticate(em, request.headers.get("authorization"))
    # A fault burst answers 429 without consuming the window (choices.BURST_429_MODEL).
    decision = em.rate_limit.peek() if plan.burst_429 else em.rate_limit.hit()
    headers.update(decision.headers())
    if not decision.allowed or plan.burst_429:
        raise rate_limited()
    if route is None:
        raise route_not_found()
    query = query_dict(request)
    if key_type == "publishable" and route.needs_secret_key(query):
        raise forbidden("Publishable keys can only read the provider catalog; use a secret key")
    if plan.error:
        raise internal_error()
    body = await read_body(request) if route.action in ("create", "update") else {}
    result = execute(em, route, query, body)
    path = request.url.path
    if route.is_write and em.faults.take_error_after_commit(path):
        raise internal_error()  # the write stays committed: a create the client must not repeat
    return result, route.is_write and em.faults.take_drop(plan.drop, path)


async def api_endpoint(request: Request) -> Response:
    em: Emulator = request.app.state.emulator
    # Date by the emulator's own clock (its offset included), as RateLimit-Reset is: a client
    # measures the reset epoch against it (uvicorn's Date, by this machine's clock, is off).
    headers = {"metorial-req-id": f"req_{uuid.uuid4().hex}",
               "date": formatdate(time.time() + em.settings.clock_offset_s, usegmt=True)}
    version = request.headers.get("metorial-version")
    if version:
        headers["metorial-version"] = version  # unknown versions are silently accepted
    route = match_route(request.method, request.url.path)
    plan = em.faults.draw()
    if plan.delay_seconds > 0:
        await asyncio.sleep(plan.delay_seconds)
    try:
        body, drop = await _handle(em, request, route, plan, headers)
        status = 200
    except ApiError as exc:
        body, drop, status = exc.body(), False, exc.status
    em.count_call(route.template if route else f"{request.method} (unknown route)", status)
    if drop:
        return DroppedResponse()
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(settings: EmulatorSettings | None = None) -> Starlette:
    """The emulator as an ASGI app; its `Emulator` is `app.state.emulator`."""
    emulator = Emulator(settings or EmulatorSettings())
    routes = admin_routes() + [Route("/{path:path}", api_endpoint, methods=METHODS)]
    app = Starlette(routes=routes)
    app.state.emulator = emulator
    return app


def emulator_of(app: Starlette) -> Emulator:
    """The in-process handle for stats, faults and reset without HTTP."""
    return app.state.emulator  # type: ignore[no-any-return]
