"""Admin routes under `/_emulator/`: stats, faults, rate limit, reset, raw object dump.

Loopback clients only; never rate limited, faulted or counted. A request carrying an
`Authorization` header is an API client, and the API has no such path: it gets the API's
404 (see choices.ADMIN_PREFIX).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import choices
from .errors import ApiError, forbidden, route_not_found
from .kinds import serialize
from .serializers import Reader

if TYPE_CHECKING:
    from .runtime import Emulator

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
Handler = Callable[["Emulator", Request, dict[str, Any]], Awaitable[Any]]


def _bad(message: str) -> ApiError:
    return ApiError(400, "invalid_data", message)


def _admin(handler: Handler) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        try:
            if request.headers.get("authorization") is not None:
                raise route_not_found()
            if request.client is not None and request.client.host not in LOOPBACK:
                raise forbidden("The emulator's admin routes answer loopback clients only")
            body: dict[str, Any] = {}
            raw = await request.body()
            if raw.strip():
                body = json.loads(raw)
                if not isinstance(body, dict):
                    raise _bad("Expected a JSON object")
            return JSONResponse(await handler(request.app.state.emulator, request, body))
        except ApiError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        except (ValueError, TypeError) as exc:
            return JSONResponse(_bad(str(exc)).body(), status_code=400)

    return endpoint


async def get_stats(em: Emulator, request: Request, body: dict[str, Any]) -> Any:
    return em.stats()


async def get_faults(em: Emulator, request: Request, body: dict[str, Any]) -> Any:
    return {**em.faults.snapshot(), "cascade_delay_ms": em.cascade_delay_ms}


async def put_faults(em: Emulator, request: Request, body: dict[str, Any]) -> Any:
    """Any of the FaultSettings fields, `seed`, `cascade_delay_ms`, and `burst_429_next`, `error_next`,
    `drop_next`, `error_after_commit_next` (fault the next N requests; the last two count committed writes,
    of the collection `next_path` when set, e.g. "/provider-deployments")."""
    if "cascade_delay_ms" in body:
        delay = body.pop("cascade_delay_ms")
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) or delay < 0:
            raise _bad("cascade_delay_ms must be a number >= 0")
        em.cascade_delay_ms = float(delay)
    em.faults.configure(body)
    return await get_faults(em, request, {})


async def put_rate_limit(em: Emulator, request: Request, body: dict[str, Any]) -> Any:
    """`{"preset": "dev"}` or `{"count": 10, "window_seconds": 60}`; `"clear": true` empties the window."""
    if "preset" in body:
        if body["preset"] not in choices.RATE_LIMIT_PRESETS:
            raise _bad(f"preset must be one of {', '.join(choices.RATE_LIMIT_PRESETS)}")
        count, window = choices.RATE_LIMIT_PRESETS[body["preset"]]
    else:
        count = body.get("count", em.rate_limit.count)
        window = body.get("window_seconds", em.rate_limit.window)
    if not isinstance(count, int) or not isinstance(window, (int, float)) or isinstance(count, bool):
        raise _bad("count must be an integer and window_seconds a number")
    em.rate_limit.configure(count, float(window), clear=bool(body.get("clear", False)))
    return em.rate_limit.info()


async def post_reset(em: Emulator, request: Request, body: dict[str, Any]) -> Any:
    """Wipe managed objects and counters (catalog kept); `{"stats_only": true}` counters only."""
    stats_only = bool(body.get("stats_only", False))
    em.reset(stats_only=stats_only)
    return {"ok": True, "stats_only": stats_only}


def _kind_key(em: Emulator, text: str | None) -> str | None:
    if not text:
        return None
    for spec in em.registry.values():
        if text in (spec.key, spec.path, spec.object):
            return spec.key
    raise _bad(f"unknown kind: {text}")


async def get_objects(em: Emulator, request: Request, body: dict[str, Any]) -> Any:
    """`?kind=config&status=archived&metadata[stack]=prod` → every matching object, archived too."""
    metadata = {
        k[len("metadata[") : -1]: v
        for k, v in request.query_params.items()
        if k.startswith("metadata[") and k.endswith("]")
    }
    status = request.query_params.get("status")
    records = em.objects(_kind_key(em, request.query_params.get("kind")), metadata, status)
    reader = Reader(em)
    items = [{**serialize(reader, r), "kind": r.kind} for r in records]
    return {"object": "list", "count": len(items), "items": items}


async def put_integration_link(em: Emulator, request: Request, body: dict[str, Any]) -> Any:
    """`{"id": …, "integration_provider_id": "ipr_…" | null}`: link a deployment or config to an active
    integration provider (or unlink it), which the public API cannot do (choices.INTEGRATION_ARCHIVE_REFUSALS)."""
    record = em.store.get(str(body.get("id")))
    linked = body.get("integration_provider_id")
    if record is None or record.kind not in choices.INTEGRATION_ARCHIVE_REFUSALS:
        raise _bad("id must name a deployment or a config")
    if linked is not None and (not isinstance(linked, str) or not linked):
        raise _bad("integration_provider_id must be a non-empty string or null")
    with em.store.transaction():
        record.doc["integration_provider_id"] = linked
        em.store.save(record)
    return {"id": record.id, "integration_provider_id": linked}


def admin_routes() -> list[Route]:
    table: list[tuple[str, str, Handler]] = [
        ("/stats", "GET", get_stats), ("/faults", "GET", get_faults), ("/faults", "PUT", put_faults),
        ("/rate-limit", "PUT", put_rate_limit), ("/reset", "POST", post_reset), ("/objects", "GET", get_objects),
        ("/integration-links", "PUT", put_integration_link),
    ]
    return [Route(choices.ADMIN_PREFIX + path, _admin(handler), methods=[method]) for path, method, handler in table]
