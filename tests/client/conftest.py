"""Fixtures for client tests: a mocked API (respx) and a fake clock so backoff costs no time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx

from metorial_apply.api.client import MetorialClient, open_client
from metorial_apply.api.retry import RetryPolicy

BASE = "https://api.test"
SECRET_KEY = "metorial_sk_test_0123456789abcdef"
PUBLISHABLE_KEY = "metorial_pk_test_0123456789abcdef"


@dataclass
class FakeTime:
    """A monotonic clock that only moves when something sleeps; `slept` records each sleep."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def error(status: int, code: str, message: str, **extra: Any) -> httpx.Response:
    body = {"object": "error", "ok": False, "status": status, "code": code, "message": message, **extra}
    return httpx.Response(status, json=body, headers={"metorial-req-id": "req_test123"})


def page(items: list[dict[str, Any]], more: bool) -> httpx.Response:
    return httpx.Response(200, json={"object": "list", "items": items,
                                     "pagination": {"has_more_before": False, "has_more_after": more}})


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def make_client(fake_time: FakeTime) -> Any:
    def make(key: str = SECRET_KEY, **kwargs: Any) -> MetorialClient:
        kwargs.setdefault("retry", RetryPolicy(max_attempts=3, base_delay_s=0.5, max_delay_s=4.0))
        return open_client(BASE, key, sleep=fake_time.sleep, clock=fake_time.clock, **kwargs)
    return make
