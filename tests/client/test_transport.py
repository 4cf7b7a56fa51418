"""Transport rules: headers, refusing insecure URLs and bad keys, no secret in any error or log, stats."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import httpx
import pytest
import respx

from metorial_apply import __version__
from metorial_apply.api.client import CallRecord, check_api_key, check_api_url, open_client
from metorial_apply.api.ratelimit import RateLimitSettings
from metorial_apply.core import errors
from tests.client.conftest import BASE, SECRET_KEY, error, page

CANARY = "canary-s3cr3t-5f9d1c"


@pytest.mark.parametrize("url", ["http://api.metorial.com", "http://10.0.0.5:8080", "http://example.localhost.evil.com"])
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(errors.InsecureTransportError, match="plain http"):
        open_client(url, SECRET_KEY)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:9", "http://[::1]:80",
                                 "https://api.metorial.com", "https://proxy.example/metorial/"])
def test_https_and_loopback_http_are_allowed(url: str) -> None:
    check_api_url(url)


@pytest.mark.parametrize("url", ["ftp://api.metorial.com", "api.metorial.com", "https://user:pw@api.test",
                                 "https://api.test/?key=1"])
def test_unusable_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(errors.UsageError) as caught:
        check_api_url(url)
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize("key", [None, ""])
def test_missing_key_names_the_env_var_and_flag(key: str | None) -> None:
    with pytest.raises(errors.ApiKeyError, match=r"METORIAL_API_KEY.*--api-key"):
        open_client(BASE, key)


def test_malformed_key_is_refused_without_echoing_it() -> None:
    bad = f"metorial_sk_{CANARY}\n"
    with pytest.raises(errors.ApiKeyError) as caught:
        check_api_key(bad)
    assert CANARY not in str(caught.value)


@pytest.mark.anyio
async def test_every_request_carries_version_auth_and_user_agent(api: respx.MockRouter, make_client: Any) -> None:
    route = api.get("/providers").mock(return_value=page([], False))
    async with make_client() as client:
        await client.list_all("/providers")
        assert repr(client) == f"MetorialClient(base_url='{BASE}')"
    headers = route.calls.last.request.headers
    assert headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert headers["metorial-version"] == "2026-02-01"
    assert headers["user-agent"] == f"metorial-apply/{__version__}"
    assert "content-type" not in headers  # no body, no content type


def _all_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc) + repr(vars(exc))


@pytest.mark.anyio
async def test_secrets_never_reach_errors_or_logs(api: respx.MockRouter, make_client: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api.post("/provider-configs").mock(side_effect=[
        error(400, "invalid_data", "Invalid body", errors=[{"code": "x", "message": "bad", "path": ["value"]}]),
        httpx.ReadTimeout("timed out"),
        error(500, "internal_server_error", "boom"),
    ])
    api.patch("/provider-configs/pcf_1").mock(side_effect=httpx.ConnectError("refused"))
    body = {"value": {"token": CANARY}, "metadata": {}}
    raised: list[BaseException] = []
    async with make_client() as client:
        for _ in range(3):
            with pytest.raises(errors.ApiError) as caught:
                await client.create("/provider-configs", body, kind="config", name="c", stamp={"s": "1"})
            raised.append(caught.value)
        with pytest.raises(errors.TransportError) as caught:
            await client.update("/provider-configs", "pcf_1", body, kind="config", name="c")
        raised.append(caught.value)
    assert [type(e) for e in raised] == [errors.BadRequestError, errors.OutcomeUnknownError,
                                         errors.OutcomeUnknownError, errors.TransportError]
    for exc in raised:
        text = _all_text(exc)
        assert CANARY not in text and SECRET_KEY not in text
    assert caplog.records, "debug logging is expected"
    assert CANARY not in caplog.text and SECRET_KEY not in caplog.text


@pytest.mark.anyio
async def test_stats_and_call_records(api: respx.MockRouter, make_client: Any) -> None:
    records: list[CallRecord] = []
    api.get("/provider-deployments").mock(side_effect=[page([{"id": "pde_1"}], True), page([], False)])
    api.post("/provider-deployments").mock(side_effect=[error(429, "rate_limit_exceeded", "slow down"),
                                                        httpx.Response(200, json={"id": "pde_2"})])
    api.delete("/provider-deployments/pde_1").mock(return_value=error(410, "gone", "archived"))
    async with make_client(on_call=records.append) as client:
        await client.list_all("/provider-deployments", kind="deployment")
        await client.create("/provider-deployments", {}, kind="deployment", name="b", stamp={})
        with pytest.raises(errors.GoneError):
            await client.delete("/provider-deployments", "pde_1", kind="deployment", name="a")
    stats = client.stats.as_dict()
    assert stats["calls"] == 4 and stats["by_method"] == {"DELETE": 1, "GET": 2, "POST": 1}
    assert stats["by_kind"] == {"deployment": 4}
    assert (stats["pages"], stats["retries"], stats["rate_limited"]) == (2, 1, 1)
    assert [(r.method, r.status, r.retries, r.name) for r in records] == [
        ("GET", 200, 0, None), ("GET", 200, 0, None), ("POST", 200, 1, "b"), ("DELETE", 410, 0, "a"),
    ]
    assert all(r.path.startswith("/provider-deployments") and "?" not in r.path for r in records)


@pytest.mark.anyio
async def test_remaining_zero_makes_the_next_request_wait_for_reset(api: respx.MockRouter, make_client: Any,
                                                                    fake_time: Any) -> None:
    headers = {"RateLimit-Limit": "100", "RateLimit-Remaining": "0", "RateLimit-Reset": "7"}
    api.get("/providers").mock(return_value=httpx.Response(200, headers=headers, json={"items": []}))
    async with make_client(rate_limit=RateLimitSettings(count=100, window_s=60)) as client:
        await client.list_all("/providers")
        assert fake_time.slept == []
        await client.list_all("/providers")
    assert fake_time.slept and sum(fake_time.slept) == pytest.approx(7.0)
    assert client.stats.rate_limited == 0  # waited instead of being refused
