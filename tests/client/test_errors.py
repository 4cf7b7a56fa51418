"""Every API failure becomes the right typed error, with what a person needs and nothing secret."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from metorial_apply.api.waits import WaitBudgetExceededError
from metorial_apply.core import errors
from tests.client.conftest import FakeTime, error

pytestmark = pytest.mark.anyio

DEPLOYMENTS = "/provider-deployments"


@pytest.mark.parametrize(("response", "cls", "code"), [
    (error(401, "unauthorized", "Invalid API key"), errors.UnauthorizedError, "unauthorized"),
    (error(403, "forbidden", "Publishable keys can only read the catalog"), errors.ForbiddenError, "forbidden"),
    (error(404, "not_found", "Not found", entity="provider.deployment", id="pde_x"), errors.NotFoundError, "not_found"),
    (error(409, "conflict", "Conflict"), errors.ConflictError, "conflict"),
    (error(410, "gone", "The object was archived"), errors.GoneError, "gone"),
    (error(412, "precondition_failed", "Precondition failed"), errors.PreconditionFailedError, "precondition_failed"),
    (error(418, "teapot", "I am a teapot"), errors.ApiError, "teapot"),
])
async def test_status_maps_to_error_class(api: respx.MockRouter, make_client: Any, response: httpx.Response,
                                          cls: type[errors.ApiError], code: str) -> None:
    route = api.get(f"{DEPLOYMENTS}/pde_x").mock(return_value=response)
    async with make_client() as client:
        with pytest.raises(errors.ApiError) as caught:
            await client.get(DEPLOYMENTS, "pde_x", kind="deployment", name="github")
    assert type(caught.value) is cls
    assert caught.value.status == response.status_code and caught.value.code == code
    assert caught.value.call == errors.ApiCall("GET", f"{DEPLOYMENTS}/pde_x", "deployment", "github", "req_test123")
    assert caught.value.address == "deployment.github"
    assert route.call_count == 1  # client errors are not retried


async def test_400_carries_field_problems_and_hint(api: respx.MockRouter, make_client: Any) -> None:
    api.post("/provider-configs").mock(return_value=error(
        400, "invalid_data", "Invalid body", hint="check the schema", entity="body",
        errors=[{"code": "required", "message": "is required", "path": ["value", "token"]}, "junk"],
    ))
    async with make_client() as client:
        with pytest.raises(errors.BadRequestError) as caught:
            await client.create("/provider-configs", {"value": {}}, kind="config", name="gh", stamp={})
    exc = caught.value
    assert exc.hint == "check the schema"
    assert exc.problems == (errors.FieldProblem(("value", "token"), "required", "is required"),)
    assert str(exc) == ("400 invalid_data: Invalid body — value.token: is required "
                        "(POST /provider-configs, request req_test123)")


@pytest.mark.parametrize(("status", "cls"), [(500, errors.ServerError), (502, errors.ServerError),
                                             (504, errors.ServerError)])
async def test_retryable_status_raises_after_attempts_run_out(api: respx.MockRouter, make_client: Any,
                                                              fake_time: FakeTime, status: int,
                                                              cls: type[errors.ApiError]) -> None:
    route = api.get(DEPLOYMENTS).mock(return_value=error(status, "some_code", "Nope"))
    async with make_client() as client:
        with pytest.raises(cls) as caught:
            await client.list_all(DEPLOYMENTS, kind="deployment")
        assert client.stats.retries == 2
    assert route.call_count == 3
    assert caught.value.status == status and caught.value.code == "some_code"
    assert len(fake_time.slept) == 2


async def test_429_is_retried_until_the_wait_budget_is_spent(api: respx.MockRouter, make_client: Any,
                                                            fake_time: FakeTime) -> None:
    """429s do not count against max_attempts (another client may be spending the budget); the
    run's --max-wait does, and its error names what was waited for."""
    route = api.get(DEPLOYMENTS).mock(return_value=error(429, "rate_limit_exceeded", "Slow down"))
    async with make_client(max_wait_s=120) as client:
        with pytest.raises(WaitBudgetExceededError) as caught:
            await client.list_all(DEPLOYMENTS, kind="deployment")
    assert route.call_count > 3  # more than max_attempts
    assert 120 - 4 <= sum(fake_time.slept) <= 120  # stopped when the next wait would pass the budget
    assert str(caught.value).startswith("wait_budget_spent: stopped instead of waiting ")
    assert "a rate-limited GET /provider-deployments to be accepted (429" in str(caught.value)
    assert "120 s budget (--max-wait)" in str(caught.value)


async def test_non_json_error_body_uses_reason_phrase(api: respx.MockRouter, make_client: Any) -> None:
    api.get(DEPLOYMENTS).mock(return_value=httpx.Response(502, text="<html>bad gateway</html>"))
    async with make_client() as client:
        with pytest.raises(errors.ServerError) as caught:
            await client.list_all(DEPLOYMENTS)
    assert caught.value.code == "http_502" and caught.value.api_message == "Bad Gateway"
    assert "html" not in str(caught.value)


@pytest.mark.parametrize(("exc", "code"), [
    (httpx.ReadTimeout("timed out"), "timeout"), (httpx.ConnectError("refused"), "connection_failed"),
    (httpx.RemoteProtocolError("closed"), "connection_lost"), (httpx.ConnectTimeout("slow"), "timeout"),
])
async def test_transport_errors_are_wrapped_after_retries(api: respx.MockRouter, make_client: Any,
                                                          exc: httpx.HTTPError, code: str) -> None:
    route = api.get(DEPLOYMENTS).mock(side_effect=exc)
    async with make_client() as client:
        with pytest.raises(errors.TransportError) as caught:
            await client.list_all(DEPLOYMENTS)
    assert route.call_count == 3
    assert caught.value.status is None and caught.value.code == code
    assert caught.value.__cause__ is None and caught.value.__context__ is None  # no httpx object rides along
    # Only a failed connection names the server (its origin, as configured); nothing quotes a
    # path or query, and no other transport error repeats the URL.
    origin = "https://api.test" if code == "connection_failed" else None
    assert (
        caught.value.api_message.endswith(f"could not connect to {origin}")
        if origin
        else "api.test" not in str(caught.value)
    )
    assert "/provider-deployments?" not in str(caught.value) and "limit=" not in str(caught.value)


async def test_invalid_json_on_success(api: respx.MockRouter, make_client: Any) -> None:
    api.get(f"{DEPLOYMENTS}/pde_1").mock(return_value=httpx.Response(200, text="not json"))
    api.get(DEPLOYMENTS).mock(return_value=httpx.Response(200, json={"object": "list"}))
    async with make_client() as client:
        with pytest.raises(errors.ApiError) as one:
            await client.get(DEPLOYMENTS, "pde_1")
        with pytest.raises(errors.ApiError) as listed:
            await client.list_all(DEPLOYMENTS)
    assert one.value.code == listed.value.code == "invalid_response"


async def test_delete_not_found_and_gone_surface_for_the_caller(api: respx.MockRouter, make_client: Any) -> None:
    api.delete(f"{DEPLOYMENTS}/pde_a").mock(return_value=error(404, "not_found", "Not found"))
    api.delete(f"{DEPLOYMENTS}/pde_b").mock(side_effect=[httpx.ReadTimeout("t"), error(410, "gone", "archived")])
    async with make_client() as client:
        with pytest.raises(errors.NotFoundError):
            await client.delete(DEPLOYMENTS, "pde_a", kind="deployment", name="a")
        # The first DELETE may have archived it; the retry then sees 410, which means done.
        with pytest.raises(errors.GoneError):
            await client.delete(DEPLOYMENTS, "pde_b", kind="deployment", name="b")
