"""A share of the organization's budget (`--rate-limit 40%`) and AIMD on 429, on a fake clock:
our own slots stay under the share of the learned limit, ours plus others' under the limit; a
429 halves our cap once per burst and the cap grows back linearly over a window."""

from __future__ import annotations

import httpx
import pytest
import respx

from metorial_apply.api.ratelimit import (
    SHARE_FORM,
    Observation,
    RateLimiter,
    RateLimitSettings,
    SlidingWindow,
)
from tests.apply.conftest import run_cli
from tests.client.conftest import FakeTime


def shared(count: int = 100, share: float | None = 0.4, seconds: float = 10.0) -> SlidingWindow:
    return SlidingWindow(RateLimitSettings(count=count, window_s=seconds, share=share))


def fill(w: SlidingWindow, n: int, now: float, status: int = 200) -> list[int]:
    seqs = [w.start(now) for _ in range(n)]
    for seq in seqs:
        w.finish(seq, now, status=status)
    return seqs


def test_parse_share_forms_and_refusals() -> None:
    assert RateLimitSettings.parse("40%") == RateLimitSettings(share=0.4)
    assert RateLimitSettings.parse(" 12.5%/10 ") == RateLimitSettings(window_s=10.0, share=0.125)
    assert RateLimitSettings.parse("100%").share == 1.0
    assert RateLimitSettings.parse("500/10") == RateLimitSettings(count=500, window_s=10.0)
    for bad in ("0%", "101%", "-5%", "nan%", "x%", "%", "40%/0", "40%/x", "40%/inf"):
        with pytest.raises(ValueError):
            RateLimitSettings.parse(bad)
    with pytest.raises(ValueError, match="share"):
        RateLimitSettings.parse("150%")
    with pytest.raises(ValueError) as info:
        RateLimitSettings.parse("forty")
    assert str(info.value) == SHARE_FORM


def test_our_slots_stop_at_the_share_of_the_learned_limit() -> None:
    w = shared(count=5000, share=0.4)
    seq = w.start(0.0)
    w.finish(seq, 0.0, Observation(limit=100, remaining=99, reset_s=10))  # learns 100 per 10 s
    assert w.cap(0.0) == 40
    fill(w, 39, 1.0)
    assert w.wait_time(1.0) == pytest.approx(9.0)  # 40 held: the first (answered at 0.0) frees at 10.0
    assert w.wait_time(10.0) == 0.0


def test_others_using_more_than_the_rest_leave_us_less_than_the_share() -> None:
    w = shared(count=100, share=0.4)
    seq = w.start(0.0)
    # The server has 25 left after ours: 74 are someone else's, held until Reset.
    w.finish(seq, 0.0, Observation(limit=100, remaining=25, reset_s=6))
    assert w.used(0.0) == 75
    fill(w, 25, 0.5)  # the 25 the server had left
    assert w.own(0.5) == 26 < w.cap(0.5)  # under our share, but the organization is full
    assert w.wait_time(0.5) == pytest.approx(5.5)
    assert w.wait_time(6.0) == 0.0  # the foreign slots expire: our share is open again


def test_a_429_halves_the_cap_once_per_burst() -> None:
    w = shared(count=100, share=1.0)
    burst = [w.start(0.0) for _ in range(8)]
    w.finish(burst[0], 0.1, status=429)
    assert w.cap(0.1) == 50
    for seq in burst[1:]:  # sent before the cut: the same overload, no further cut
        w.finish(seq, 0.1, status=429)
    assert w.cap(0.1) == 50
    later = w.start(0.2)
    w.finish(later, 0.2, status=429)
    assert w.cap(0.2) == 25


def test_a_429_with_room_left_in_the_window_does_not_cut() -> None:
    w = shared(count=100, share=1.0)
    w.finish(w.start(0.0), 0.0, Observation(limit=100, remaining=60, reset_s=3), status=429)  # a burst guard
    assert w.cap(0.0) == 100
    w.finish(w.start(0.1), 0.1, Observation(limit=100, remaining=0, reset_s=3), status=429)  # the window is spent
    assert w.cap(0.1) == 50


def test_the_cap_never_falls_below_a_sixteenth() -> None:
    w = shared(count=1000, share=1.0)
    for i in range(12):
        w.finish(w.start(float(i) / 1000), float(i) / 1000, status=429)
    assert w.cap(0.012) == 62  # 1000 / 16, plus what 12 ms of recovery gave back (less than one)


def test_the_cap_never_falls_below_one_slot() -> None:
    w = shared(count=10, share=0.2)
    for i in range(12):
        w.finish(w.start(float(i)), float(i), status=429)
    assert w.cap(12.0) == 1


def test_the_cap_grows_back_linearly_over_a_window() -> None:
    w = shared(count=100, share=1.0, seconds=10.0)
    w.finish(w.start(0.0), 0.0, status=429)
    assert w.cap(0.0) == 50
    assert w.cap(5.0) == 75
    assert w.cap(10.0) == 100
    assert w.cap(30.0) == 100  # never above the full share


def test_a_full_cut_cap_waits_for_growth_when_that_comes_first() -> None:
    w = shared(count=100, share=1.0, seconds=10.0)
    fill(w, 49, 0.0)
    w.finish(w.start(0.0), 0.0, status=429)  # 50 held, cap cut to 50
    # The next slot: the cap reaches 51 after (0.51 - 0.5) × 10 / 0.5 = 0.2 s, before any slot frees.
    assert w.wait_time(0.0) == pytest.approx(0.2)
    assert w.wait_time(0.2) == 0.0


@pytest.mark.anyio
async def test_limiter_paces_a_share_over_windows() -> None:
    t = FakeTime(now=0.0)
    limiter = RateLimiter(RateLimitSettings(count=10, window_s=10, learn=False, share=0.5), clock=t.clock,
                          sleep=t.sleep)
    for _ in range(15):
        limiter.release(await limiter.acquire(), {})
    assert t.now == pytest.approx(20.0)  # 5 per window: 15 requests need two waits of a window


@pytest.mark.anyio
async def test_a_429_through_the_client_cuts_its_limiter(make_client, api: respx.MockRouter) -> None:  # type: ignore[no-untyped-def]
    api.get("/things").mock(side_effect=[httpx.Response(429, json={"code": "rate_limit_exceeded"}),
                                         httpx.Response(200, json={"ok": True})])
    async with make_client(rate_limit=RateLimitSettings(count=100, window_s=10, learn=False, share=1.0)) as client:
        assert await client.read("/things") == {"ok": True}
        assert client.stats.rate_limited == 1
        assert client.limiter.window.scale < 1.0


def test_apply_refuses_a_bad_share_as_a_usage_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "stack.yaml"
    path.write_text("stack: s\ndeployments:\n  gh: {provider: github}\n")
    bad = run_cli(["apply", str(path), "--api-url", "local", "--auto-approve", "--rate-limit", "140%"])
    assert bad.code == 64 and "share" in bad.err
    good = run_cli(["apply", str(path), "--api-url", "local", "--auto-approve", "--rate-limit", "40%"])
    assert good.code == 0, good.out + good.err


def test_without_a_share_a_429_leaves_the_budget_to_the_servers_word() -> None:
    """No share: no cap of our own to cut. The server's RateLimit headers (which know its real
    window, where ours is a guess) decide when to send again, so a 429 never parks us for a
    guessed 600 s window."""
    w = SlidingWindow(RateLimitSettings(count=100, window_s=600.0))
    fill(w, 3, 0.0, status=429)
    assert w.scale == 1.0 and w.cap(0.0) == 100
    assert w.wait_time(0.1) == 0.0
