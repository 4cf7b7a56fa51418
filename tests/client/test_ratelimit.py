"""The pure sliding-window budget and its header corrections, on a fake clock."""

from __future__ import annotations

import pytest

from metorial_apply.api.ratelimit import (
    Observation,
    RateLimiter,
    RateLimitSettings,
    SlidingWindow,
    parse_observation,
    reset_seconds,
)
from tests.client.conftest import FakeTime

WALL = 1_700_000_000.0


def window(count: int = 3, seconds: float = 10.0, learn: bool = True) -> SlidingWindow:
    return SlidingWindow(RateLimitSettings(count=count, window_s=seconds, learn=learn))


def test_allows_count_then_waits_until_the_first_answered_slot_frees() -> None:
    w = window()
    seqs = [w.start(0.0) for _ in range(3)]
    for seq in seqs:
        w.finish(seq, 1.0)
    assert w.wait_time(1.0) == pytest.approx(10.0)  # answered at 1.0 → frees at 11.0
    assert w.wait_time(11.0) == 0.0


def test_slot_is_held_from_send_until_a_window_after_the_response() -> None:
    w = window(count=1)
    seq = w.start(0.0)
    assert w.wait_time(50.0) > 0  # still in flight: nothing says when it frees
    w.finish(seq, 2.5)
    assert w.wait_time(12.4) == pytest.approx(0.1)
    assert w.wait_time(12.5) == 0.0


def test_used_counts_in_flight_and_answered() -> None:
    w = window(count=5)
    a, _ = w.start(0.0), w.start(0.0)
    w.finish(a, 0.1)
    assert w.used(0.2) == 2
    assert w.used(10.2) == 1  # the answered one expired, the in-flight one stays


def test_finish_of_unknown_seq_is_ignored() -> None:
    w = window()
    w.finish(99, 1.0)
    assert w.used(1.0) == 0


def test_learns_limit_from_header() -> None:
    w = window(count=100, seconds=10)
    seq = w.start(0.0)
    w.finish(seq, 0.1, Observation(limit=7, remaining=3, reset_s=4))
    assert w.count == 7
    assert w.window_s == 10  # remaining != limit - 1: the window is not revealed


def test_learns_window_from_first_response_in_an_empty_window() -> None:
    w = window(count=5000, seconds=600)
    seq = w.start(0.0)
    w.finish(seq, 0.05, Observation(limit=500, remaining=499, reset_s=10))
    # Reset was read 0.05 s after the request left: the window is at most 10.05 s.
    assert (w.count, w.window_s) == (500, pytest.approx(10.05))


def test_learn_off_keeps_configuration() -> None:
    w = window(count=50, seconds=60, learn=False)
    seq = w.start(0.0)
    w.finish(seq, 0.05, Observation(limit=500, remaining=499, reset_s=10))
    assert (w.count, w.window_s) == (50, 60)


def test_lower_remaining_than_ours_holds_foreign_slots_until_reset() -> None:
    w = window(count=100, seconds=100, learn=False)
    seq = w.start(0.0)
    # Others spent 90 of the budget: the server has 9 left, we thought 99.
    w.finish(seq, 0.0, Observation(limit=100, remaining=9, reset_s=30))
    assert 100 - w.used(0.0) == 9
    assert w.used(30.0) == 1  # foreign slots released at Reset


def test_our_slots_freed_during_the_round_trip_are_forgiven() -> None:
    w = window(count=10, seconds=10, learn=False)
    for seq in [w.start(0.0) for _ in range(5)]:
        w.finish(seq, 0.0)
    k = w.start(9.9)
    # The server answered k while it still counted our five; they expired before we read it.
    w.finish(k, 10.5, Observation(limit=10, remaining=4, reset_s=1))
    assert w.used(10.5) == 1


def test_remaining_zero_blocks_until_reset() -> None:
    w = window(count=10, seconds=100, learn=False)
    seq = w.start(0.0)
    w.finish(seq, 0.0, Observation(limit=10, remaining=0, reset_s=5))
    assert w.wait_time(0.0) == pytest.approx(5.0)


def test_remaining_consistent_with_ours_adds_nothing() -> None:
    w = window(count=10, seconds=10, learn=False)
    seqs = [w.start(0.0) for _ in range(4)]
    for seq in seqs[:-1]:
        w.finish(seq, 0.1)
    # The server counted 4 (remaining 6) when answering the last one; we hold 4 too.
    w.finish(seqs[-1], 0.1, Observation(limit=10, remaining=6, reset_s=10))
    assert w.used(0.1) == 4


def test_requests_sent_after_the_observed_one_are_not_counted_twice() -> None:
    w = window(count=10, seconds=10, learn=False)
    first = w.start(0.0)
    for _ in range(5):
        w.start(0.0)  # sent after `first`, not yet seen by the server when it answered
    w.finish(first, 0.1, Observation(limit=10, remaining=9, reset_s=10))
    assert w.used(0.1) == 6


@pytest.mark.parametrize(("value", "expected"), [
    (7, 7.0), (0, 0.0), (WALL + 12, 12.0), ((WALL + 3.5) * 1000, 3.5), (WALL - 100, 0.0),
])
def test_reset_seconds_accepts_seconds_epoch_seconds_and_epoch_ms(value: float, expected: float) -> None:
    assert reset_seconds(value, WALL) == pytest.approx(expected)


def test_parse_observation() -> None:
    seen = parse_observation({"ratelimit-limit": "500", "ratelimit-remaining": "12", "ratelimit-reset": "3"}, WALL)
    assert seen == Observation(limit=500, remaining=12, reset_s=3.0)
    assert parse_observation({}, WALL) is None
    garbled = parse_observation(
        {"ratelimit-limit": "lots", "ratelimit-remaining": "-1", "ratelimit-reset": "nan"}, WALL
    )
    assert garbled is None
    assert parse_observation({"ratelimit-remaining": "3"}, WALL) == Observation(limit=None, remaining=3, reset_s=None)


def test_settings_parse() -> None:
    assert RateLimitSettings.parse("500/10") == RateLimitSettings(count=500, window_s=10.0)
    for bad in ("500", "x/10", "0/10", "5/0", ""):
        with pytest.raises(ValueError):
            RateLimitSettings.parse(bad)


@pytest.mark.anyio
async def test_limiter_sleeps_instead_of_exceeding_the_budget() -> None:
    t = FakeTime(now=0.0)
    limiter = RateLimiter(RateLimitSettings(count=2, window_s=10, learn=False), clock=t.clock, sleep=t.sleep)
    for _ in range(6):
        seq = await limiter.acquire()
        limiter.release(seq, {})
    # 6 requests at 2 per 10 s: two waits of a full window.
    assert t.now == pytest.approx(20.0)
    assert limiter.waited_s == pytest.approx(20.0)


def test_a_configured_window_consistent_with_a_rounded_reset_is_kept() -> None:
    w = window(count=20, seconds=0.5)
    seq = w.start(0.0)
    w.finish(seq, 0.01, Observation(limit=20, remaining=19, reset_s=1))  # ceil(0.5) == 1
    assert w.window_s == 0.5


def test_an_epoch_reset_read_after_the_way_back_does_not_shorten_the_window() -> None:
    # The server's window ends 0.5 s after the hit, at an epoch that rounds up by almost nothing;
    # read 0.002 s later on our clock, Reset says 0.498 s. A window learned as 0.498 would free
    # each slot 2 ms before the server does: one 429 per window at full speed.
    w = window(count=20, seconds=0.5)
    seq = w.start(0.0)
    w.finish(seq, 0.004, Observation(limit=20, remaining=19, reset_s=0.498))
    assert w.window_s == 0.5
    w = window(count=20, seconds=600)  # a guess far off: replaced by the upper bound
    seq = w.start(0.0)
    w.finish(seq, 0.004, Observation(limit=20, remaining=19, reset_s=0.498))
    assert w.window_s == pytest.approx(0.502)
