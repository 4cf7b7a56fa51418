"""The server's word beats our window guess: with another client spending the budget, or a
window shorter than we assume, the limiter sends when the server says a slot is free (or at the
reset it announces), instead of holding our own slots for a whole guessed window."""

from __future__ import annotations

import pytest

from metorial_apply.api.ratelimit import Observation, RateLimitSettings, SlidingWindow


def guessing_600_s() -> SlidingWindow:
    """Three requests per 600 s as far as we know; the server's real window is much shorter."""
    return SlidingWindow(RateLimitSettings(count=3, window_s=600, learn=False))


def spend(w: SlidingWindow, at: float, seen: Observation | None = None, n: int = 3) -> None:
    for _ in range(n):
        w.finish(w.start(at), at + 0.1, seen)


def test_the_server_saying_it_has_room_lets_us_send_past_our_guess() -> None:
    w = guessing_600_s()
    spend(w, 0.0, n=2)
    spend(w, 20.0, Observation(limit=None, remaining=2, reset_s=1), n=1)  # our 3rd: the server still has 2
    assert w.used(20.2) == 3  # full by our own count, for 600 s
    assert w.wait_time(20.2) == 0.0
    w.start(20.2)
    assert w.wait_time(20.2) == 0.0  # one of the server's 2 left
    w.start(20.2)
    assert w.wait_time(20.2) > 0  # both taken: back to our own count until the server speaks


def test_a_full_server_is_asked_again_at_the_reset_it_announces() -> None:
    w = guessing_600_s()
    spend(w, 0.0, n=2)
    spend(w, 5.0, Observation(limit=None, remaining=0, reset_s=2), n=1)
    assert w.wait_time(5.1) == pytest.approx(2.0)  # not 594.9: the server frees a slot at 7.1
    assert w.wait_time(7.1) == 0.0


def test_without_headers_our_own_window_still_holds() -> None:
    w = guessing_600_s()
    spend(w, 0.0)
    assert w.wait_time(0.1) == pytest.approx(600.0)


def test_a_request_in_flight_means_looking_again_soon_not_sleeping_out_the_guess() -> None:
    w = guessing_600_s()
    spend(w, 0.0, n=2)
    spend(w, 1.0, Observation(limit=None, remaining=1, reset_s=1), n=1)  # the server: 1 left
    in_flight = w.start(1.2)  # ... which we take
    assert 0 < w.wait_time(1.2) <= 0.25  # its answer may say more is free: do not sleep 600 s
    w.finish(in_flight, 1.3, Observation(limit=None, remaining=4, reset_s=1))
    assert w.wait_time(1.3) == 0.0
