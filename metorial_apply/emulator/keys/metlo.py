"""The Metlo API-key endpoints (reference: Metlo "API keys" page), choices in choices.py.

    POST   /api/v1/keys/create        {name, keyFor} → {apiKey, name, identifier, created, for}
    GET    /api/v1/keys/list          → [{name, identifier, created, for}]
    GET    /api/v1/keys/onboarding    → the ONBOARDING keys, newest first
    DELETE /api/v1/keys/{name}/delete → {"status": "OK"}

Every call sends the key itself as `Authorization: <key>` (no scheme).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from ..store import now_iso
from .choices import (
    METLO_BOOTSTRAP_IDENTIFIER,
    METLO_BOOTSTRAP_KEY,
    METLO_BOOTSTRAP_NAME,
    METLO_DEFAULT_KEY_TYPE,
    METLO_DUPLICATE_MESSAGE,
    METLO_ERROR_CONTENT_TYPE,
    METLO_IDENTIFIER_ALPHABET,
    METLO_IDENTIFIER_LENGTH,
    METLO_IDENTIFIER_PREFIX,
    METLO_INTERNAL_ERROR_MESSAGE,
    METLO_INVALID_JSON_MESSAGE,
    METLO_KEY_LIMIT,
    METLO_KEY_PREFIX,
    METLO_KEY_RANDOM_LENGTH,
    METLO_KEY_TYPE_MESSAGE,
    METLO_KEY_TYPES,
    METLO_LIMIT_MESSAGE,
    METLO_NAME_REQUIRED_MESSAGE,
    METLO_NO_ROUTE_MESSAGE,
    METLO_NOT_FOUND_MESSAGE,
    METLO_RATE_LIMIT_MESSAGE,
    METLO_UNAUTHORIZED_MESSAGE,
)
from .keystore import KeyRow, new_secret, random_text
from .service import Call, Credentials, Endpoint, KeyApiError, KeyService, KeyState, Messages


def view(row: KeyRow) -> dict[str, Any]:
    return {"name": row.name, "identifier": row.identity, "created": row.created, "for": row.key_for}


def list_keys(call: Call) -> tuple[int, Any]:
    return 200, [view(r) for r in call.emulator.keys.active()]


def onboarding_keys(call: Call) -> tuple[int, Any]:
    rows = call.emulator.keys.active("json_extract(doc, '$.for') = ?", ["ONBOARDING"], order="DESC")
    return 200, [view(r) for r in rows]


def _key_type(value: Any) -> str:
    if value is None or value == "":
        return METLO_DEFAULT_KEY_TYPE
    if not isinstance(value, str) or value not in METLO_KEY_TYPES:
        raise KeyApiError(400, METLO_KEY_TYPE_MESSAGE)
    return value


def _new_identifier(emulator: KeyState) -> str:
    identifier = emulator.keys.new_identity(
        lambda: METLO_IDENTIFIER_PREFIX + random_text(METLO_IDENTIFIER_ALPHABET, METLO_IDENTIFIER_LENGTH))
    if identifier is None:
        raise KeyApiError(500, METLO_INTERNAL_ERROR_MESSAGE)
    return identifier


def create_key(call: Call) -> tuple[int, Any]:
    keys, name = call.emulator.keys, call.body.get("name")
    if keys.count_active() >= METLO_KEY_LIMIT:
        raise KeyApiError(400, METLO_LIMIT_MESSAGE)
    if isinstance(name, str) and name and keys.active("name = ?", [name]):
        raise KeyApiError(400, METLO_DUPLICATE_MESSAGE.format(name=name))
    if not isinstance(name, str) or not name:
        raise KeyApiError(400, METLO_NAME_REQUIRED_MESSAGE)
    key_for = _key_type(call.body.get("keyFor"))
    secret = new_secret(METLO_KEY_PREFIX, METLO_KEY_RANDOM_LENGTH)
    row = KeyRow(call.emulator.store.new_id("mlk"), name, _new_identifier(call.emulator), now_iso(), key_for)
    keys.add(row, secret)
    return 200, {"apiKey": secret, **view(row)}


def delete_key(call: Call) -> tuple[int, Any]:
    name = call.params["name"]
    rows = call.emulator.keys.active("name = ?", [name])
    if not rows:
        raise KeyApiError(404, METLO_NOT_FOUND_MESSAGE.format(name=name))
    for row in rows:
        call.emulator.revoke(row, call.now)
    return 200, {"status": "OK"}


def credentials(headers: Mapping[str, str]) -> Credentials | None:
    key = headers.get("authorization")
    return None if key is None else Credentials(key)


def error(status: int, message: str) -> Response:
    return Response(message, status_code=status, headers={"content-type": METLO_ERROR_CONTENT_TYPE})


def bootstrap(emulator: KeyState) -> tuple[KeyRow, str]:
    row = KeyRow(emulator.store.new_id("mlk"), METLO_BOOTSTRAP_NAME, METLO_BOOTSTRAP_IDENTIFIER, now_iso(),
                 METLO_DEFAULT_KEY_TYPE)
    return row, METLO_BOOTSTRAP_KEY


SERVICE = KeyService(
    api="metlo",
    label="Metlo",
    endpoints=(
        Endpoint("POST", "/api/v1/keys/create", create_key, write=True, body=True),
        Endpoint("GET", "/api/v1/keys/list", list_keys),
        Endpoint("GET", "/api/v1/keys/onboarding", onboarding_keys),
        Endpoint("DELETE", "/api/v1/keys/{name}/delete", delete_key, write=True),
    ),
    credentials=credentials,
    error=error,
    messages=Messages(
        unauthorized=METLO_UNAUTHORIZED_MESSAGE, internal_error=METLO_INTERNAL_ERROR_MESSAGE,
        rate_limited=METLO_RATE_LIMIT_MESSAGE, invalid_json=METLO_INVALID_JSON_MESSAGE,
        no_route=METLO_NO_ROUTE_MESSAGE,
    ),
    bootstrap=bootstrap,
    bootstrap_credentials={"api_key": METLO_BOOTSTRAP_KEY},
    credential_headers=("authorization",),
)
