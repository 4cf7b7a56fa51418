"""The Metal API-key endpoints (reference: Metal "Authentication" page), choices in choices.py.

    GET    /v1/keys          → {"data": [{id, name, keyLastFour, clientId, createdAt}]}
    POST   /v1/keys  {name}  → 201 {"data": {…, "key": <one-time secret>}}
    DELETE /v1/keys/{key}    → {"data": <the deleted key>}; it stops working after the window
    GET    /v1/keys/current  → {"data": <the calling key>}

Every call sends `x-metal-client-id` and `x-metal-api-key`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse, Response

from .choices import (
    METAL_BAD_PAGINATION_MESSAGE,
    METAL_BOOTSTRAP_CLIENT_ID,
    METAL_BOOTSTRAP_ID,
    METAL_BOOTSTRAP_KEY,
    METAL_BOOTSTRAP_NAME,
    METAL_CLIENT_ID_PREFIX,
    METAL_CLIENT_ID_RANDOM_LENGTH,
    METAL_INTERNAL_ERROR_MESSAGE,
    METAL_INVALID_JSON_MESSAGE,
    METAL_KEY_LIMIT,
    METAL_KEY_PREFIX,
    METAL_KEY_RANDOM_LENGTH,
    METAL_LIMIT_MESSAGE,
    METAL_NAME_REQUIRED_MESSAGE,
    METAL_NO_ROUTE_MESSAGE,
    METAL_NOT_FOUND_MESSAGE,
    METAL_PAGE_LIMIT_DEFAULT,
    METAL_PAGE_LIMIT_MAX,
    METAL_PAGE_MAX,
    METAL_RATE_LIMIT_MESSAGE,
    METAL_SECRET_FIELD,
    METAL_SORT_FIELDS,
    METAL_UNAUTHORIZED_MESSAGE,
    SECRET_ALPHABET,
)
from .keystore import KeyRow, new_secret, random_text
from .service import Call, Credentials, Endpoint, KeyApiError, KeyService, KeyState, Messages

CLIENT_ID_HEADER = "x-metal-client-id"
API_KEY_HEADER = "x-metal-api-key"
# An ObjectId's 5 random bytes are fixed per process, so one process's ids sort in creation order.
_PROCESS_RANDOM = secrets.token_hex(5)
_SORT_KEYS = {"_id": lambda r: r.id, "createdAt": lambda r: (r.created, r.id), "name": lambda r: (r.name, r.id)}


def view(row: KeyRow) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "keyLastFour": row.last_four, "clientId": row.identity,
            "createdAt": row.created}


def object_id(emulator: KeyState) -> str:
    """24 hex digits: seconds, the process's random bytes, a counter kept in the database."""
    counter = int(emulator.store.meta("metal_object_counter") or "0") + 1
    emulator.store.set_meta("metal_object_counter", str(counter))
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{_PROCESS_RANDOM}{counter & 0xFFFFFF:06x}"


def _created() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise KeyApiError(400, METAL_BAD_PAGINATION_MESSAGE.format(name=name)) from None


def list_keys(call: Call) -> tuple[int, Any]:
    query = call.query
    limit = min(max(_int_param(query, "limit", METAL_PAGE_LIMIT_DEFAULT), 1), METAL_PAGE_LIMIT_MAX)
    page = _int_param(query, "page", 1)
    sort, direction = query.get("sort", "_id"), query.get("direction", "desc")
    for name, ok in (("page", 1 <= page <= METAL_PAGE_MAX), ("sort", sort in METAL_SORT_FIELDS),
                     ("direction", direction in ("asc", "desc"))):
        if not ok:
            raise KeyApiError(400, METAL_BAD_PAGINATION_MESSAGE.format(name=name))
    rows = call.emulator.keys.active()
    if "lt" in query:
        rows = [r for r in rows if r.id < query["lt"]]
    rows.sort(key=_SORT_KEYS[sort], reverse=direction == "desc")
    return 200, {"data": [view(r) for r in rows[(page - 1) * limit : page * limit]]}


def current_key(call: Call) -> tuple[int, Any]:
    return 200, {"data": view(call.caller)}


def _new_client_id(emulator: KeyState) -> str:
    client_id = emulator.keys.new_identity(
        lambda: METAL_CLIENT_ID_PREFIX + random_text(SECRET_ALPHABET, METAL_CLIENT_ID_RANDOM_LENGTH))
    if client_id is None:
        raise KeyApiError(500, METAL_INTERNAL_ERROR_MESSAGE)
    return client_id


def create_key(call: Call) -> tuple[int, Any]:
    name, keys = call.body.get("name"), call.emulator.keys
    if not isinstance(name, str) or not name.strip():
        raise KeyApiError(400, METAL_NAME_REQUIRED_MESSAGE)
    if keys.count_active() >= METAL_KEY_LIMIT:
        raise KeyApiError(422, METAL_LIMIT_MESSAGE)
    secret = new_secret(METAL_KEY_PREFIX, METAL_KEY_RANDOM_LENGTH)
    row = KeyRow(object_id(call.emulator), name, _new_client_id(call.emulator), _created(), None, secret[-4:])
    keys.add(row, secret)
    return 201, {"data": {**view(row), call.emulator.secret_field or METAL_SECRET_FIELD: secret}}


def delete_key(call: Call) -> tuple[int, Any]:
    rows = call.emulator.keys.active("id = ?", [call.params["key"]])
    if not rows:
        raise KeyApiError(404, METAL_NOT_FOUND_MESSAGE)
    call.emulator.revoke(rows[0], call.now)
    return 200, {"data": view(rows[0])}


def credentials(headers: Mapping[str, str]) -> Credentials | None:
    client_id, api_key = headers.get(CLIENT_ID_HEADER), headers.get(API_KEY_HEADER)
    if client_id is None or api_key is None:
        return None
    return Credentials(api_key, client_id)


def error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def bootstrap(emulator: KeyState) -> tuple[KeyRow, str]:
    row = KeyRow(METAL_BOOTSTRAP_ID, METAL_BOOTSTRAP_NAME, METAL_BOOTSTRAP_CLIENT_ID, _created(), None,
                 METAL_BOOTSTRAP_KEY[-4:])
    return row, METAL_BOOTSTRAP_KEY


SERVICE = KeyService(
    api="metal",
    label="Metal",
    endpoints=(
        Endpoint("GET", "/v1/keys", list_keys),
        Endpoint("POST", "/v1/keys", create_key, write=True, body=True),
        Endpoint("GET", "/v1/keys/current", current_key),
        Endpoint("DELETE", "/v1/keys/{key}", delete_key, write=True),
    ),
    credentials=credentials,
    error=error,
    messages=Messages(
        unauthorized=METAL_UNAUTHORIZED_MESSAGE, internal_error=METAL_INTERNAL_ERROR_MESSAGE,
        rate_limited=METAL_RATE_LIMIT_MESSAGE, invalid_json=METAL_INVALID_JSON_MESSAGE,
        no_route=METAL_NO_ROUTE_MESSAGE,
    ),
    bootstrap=bootstrap,
    bootstrap_credentials={"client_id": METAL_BOOTSTRAP_CLIENT_ID, "api_key": METAL_BOOTSTRAP_KEY},
    credential_headers=(CLIENT_ID_HEADER, API_KEY_HEADER),
    uses_client_id=True,
)
