"""A sliding-window rate limit shared by every key (the API limits per organization)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from . import choices


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # seconds until a slot frees (0: the window is empty)
    reset_epoch: int  # when that is, in epoch seconds by the emulator's clock (choices.RATE_LIMIT_RESET_EPOCH)

    def headers(self) -> dict[str, str]:
        reset = self.reset_epoch if choices.RATE_LIMIT_RESET_EPOCH else self.reset_seconds
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(reset),
        }


class SlidingWindow:
    """Timestamps of accepted requests within the last `window` seconds."""

    def __init__(self, count: int, window_seconds: float, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._wall = wall  # epoch seconds, the emulator's clock offset included
        self._hits: deque[float] = deque()
        self.count = count
        self.window = window_seconds

    def configure(self, count: int, window_seconds: float, clear: bool = False) -> None:
        if count < 1 or window_seconds <= 0:
            raise ValueError("rate limit needs count >= 1 and window_seconds > 0")
        with self._lock:
            self.count, self.window = count, window_seconds
            if clear:
                self._hits.clear()

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()

    def _expire(self, now: float) -> None:
        while self._hits and self._hits[0] <= now - self.window:
            self._hits.popleft()

    def _decision(self, allowed: bool, now: float) -> Decision:
        reset, exact = 0, 0.0
        if self._hits:
            exact = self._hits[0] + self.window - now
            # Rounded to the millisecond first so float noise never turns 600.0 into 601.
            reset = max(1, math.ceil(round(exact, 3)))
        epoch = math.ceil(round(self._wall() + exact, 3))  # never before the slot frees
        return Decision(allowed, self.count, max(0, self.count - len(self._hits)), reset, epoch)

    def hit(self) -> Decision:
        """Count one request if the window has room; rejected requests are not recorded."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            allowed = len(self._hits) < self.count
            if allowed:
                self._hits.append(now)
            return self._decision(allowed, now)

    def peek(self) -> Decision:
        with self._lock:
            now = self._clock()
            self._expire(now)
            return self._decision(len(self._hits) < self.count, now)

    def info(self) -> dict[str, float | int]:
        decision = self.peek()
        return {
            "limit": self.count, "window_seconds": self.window, "used": self.count - decision.remaining,
            "remaining": decision.remaining, "reset_seconds": decision.reset_seconds,
        }
