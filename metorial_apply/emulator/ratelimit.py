"""A sliding-window rate limit shared by every key (the API limits per organization)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # choices.RATE_LIMIT_RESET_UNIT: seconds until a slot frees

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


class SlidingWindow:
    """Timestamps of accepted requests within the last `window` seconds."""

    def __init__(self, count: int, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
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
        reset = 0
        if self._hits:
            # Rounded to the millisecond first so float noise never turns 600.0 into 601.
            reset = max(1, math.ceil(round(self._hits[0] + self.window - now, 3)))
        return Decision(allowed, self.count, max(0, self.count - len(self._hits)), reset)

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
