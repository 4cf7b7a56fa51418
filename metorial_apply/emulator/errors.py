"""The API's error bodies, raised as `ApiError` anywhere in request handling."""

from __future__ import annotations

from typing import Any

RATE_LIMIT_BODY: dict[str, Any] = {
    "object": "error",
    "ok": False,
    "status": 429,
    "code": "rate_limit_exceeded",
    "message": "You have exceeded the rate limit for this instance",
    "hint": "Please wait a few minutes before trying again",
}


class ApiError(Exception):
    """An error response in the contract's shape. Messages never contain request values."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = {k: v for k, v in extra.items() if v is not None}

    def body(self) -> dict[str, Any]:
        body = {"object": "error", "ok": False, "status": self.status, "code": self.code, "message": self.message}
        body.update(self.extra)
        return body


def field_problem(path: list[Any], code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "path": [str(p) if not isinstance(p, int) else p for p in path]}


def invalid_data(errors: list[dict[str, Any]], entity: str = "body") -> ApiError:
    first = errors[0]
    where = ".".join(str(p) for p in first["path"]) or entity
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ApiError(
        400, "invalid_data", f"Invalid {entity}: {where}: {first['message']}{more}", entity=entity, errors=errors
    )


def invalid_field(path: list[Any], code: str, message: str, entity: str = "body") -> ApiError:
    return invalid_data([field_problem(path, code, message)], entity)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def not_found(entity: str, ident: str | None) -> ApiError:
    return ApiError(404, "not_found", f"The requested {entity} could not be found", entity=entity, id=ident)


def route_not_found() -> ApiError:
    return ApiError(404, "not_found", "The requested endpoint could not be found", entity="endpoint")


def use_after_delete(entity: str, ident: str) -> ApiError:
    return ApiError(400, "use_after_delete", f"The {entity} {ident} has been deleted and cannot be used")


def gone(entity: str, ident: str) -> ApiError:
    return ApiError(410, "gone", f"The {entity} {ident} has been deleted")


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, hint="Pass a secret key as `Authorization: Bearer metorial_sk_...`")


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def internal_error() -> ApiError:
    return ApiError(500, "internal_server_error", "An internal error occurred, please try again")


def rate_limited() -> ApiError:
    body = RATE_LIMIT_BODY
    return ApiError(429, body["code"], body["message"], hint=body["hint"])
