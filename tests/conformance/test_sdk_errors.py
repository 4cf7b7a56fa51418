"""The emulator's error bodies against the official SDK's reading of them (metorial 2.6,
`MetorialSDKError`: status, code, message, hint, description, reason, errors, entity) and the
contract's shape (metorial-api.md, Errors): `object: "error"`, `ok: false`, `status` equal to
the HTTP status, `code` and `message` always; validation errors add `entity` and `errors`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from metorial.exceptions import MetorialSDKError

from tests.emulator_server import SECRET_KEY, EmulatorThread

Call = Callable[[httpx.Client], httpx.Response]
TEXT = ("hint", "description", "reason", "entity")  # str when present (the SDK returns them as such)
PROVOKED: dict[str, tuple[Call, int, str]] = {
    "not found": (lambda api: api.get("/provider-deployments/pde_missing"), 404, "not_found"),
    "validation": (lambda api: api.post("/provider-deployments", json={"provider_id": 7}), 400, "invalid_data"),
    "unknown filter": (lambda api: api.get("/session-templates", params={"bogus": "x"}), 400, "invalid_data"),
    "bad key": (lambda api: api.get("/providers", headers={"Authorization": "Bearer metorial_sk_nope"}), 401,
                "unauthorized"),
    "empty template provider": (lambda api: api.post("/session-templates", json={"name": "t", "providers": [{}]}),
                                400, "bad_request"),
    "unknown route": (lambda api: api.get("/nowhere"), 404, "not_found"),
}


@pytest.fixture(scope="module")
def api() -> Iterator[httpx.Client]:
    with EmulatorThread() as server, httpx.Client(base_url=server.url, timeout=10,
                                                  headers={"Authorization": f"Bearer {SECRET_KEY}"}) as client:
        yield client


def body_problems(body: Any, status: int) -> list[str]:
    if not isinstance(body, dict):
        return [f"{type(body).__name__}, not an object"]
    problems = [f"{k}: missing" for k in ("object", "ok", "status", "code", "message") if k not in body]
    expected = {"object": "error", "ok": False, "status": status}
    problems += [f"{k}: {body[k]!r}, not {v!r}" for k, v in expected.items() if k in body and body[k] != v]
    problems += [f"{k}: not a string" for k in ("code", "message", *TEXT) if k in body and not isinstance(body[k], str)]
    for i, item in enumerate(body.get("errors", [])):
        if not (isinstance(item, dict) and isinstance(item.get("code"), str) and isinstance(item.get("message"), str)
                and isinstance(item.get("path"), list)):
            problems.append(f"errors[{i}]: not {{code, message, path}}")
    return problems


@pytest.mark.parametrize("case", sorted(PROVOKED))
def test_error_bodies_read_as_the_sdk_reads_them(case: str, api: httpx.Client) -> None:
    call, status, code = PROVOKED[case]
    response = call(api)
    assert response.status_code == status, response.text
    body = response.json()
    assert body_problems(body, status) == []
    error = MetorialSDKError(body)
    assert (error.status, error.code, error.message) == (status, code, body["message"])
    if code == "invalid_data" and case == "validation":
        assert error.entity == "body" and error.validation_errors, body


def test_a_body_off_the_contract_is_caught() -> None:
    body = {"object": "error", "ok": False, "status": "400", "code": 7, "message": "m", "errors": [{"code": "c"}]}
    assert body_problems(body, 400) == ["status: '400', not 400", "code: not a string",
                                        "errors[0]: not {code, message, path}"]
