"""Client-side rate limiting: a sliding-window budget corrected by the API's RateLimit-* headers.

The Metorial API allows COUNT requests per sliding WINDOW per organization (published: 5,000
per 600 s), shared by every client of the organization. `SlidingWindow` is the pure budget
(clock passed in, unit-tested with a fake clock); `RateLimiter` is its asyncio wrapper.

How the budget is kept:
- A request holds a slot from the moment it is sent until WINDOW seconds after its response
  arrived. The server counts it at arrival, which lies between those two instants, so a
  limiter set to the server's limit never gets ahead of the server, whatever the latency.
- Headers correct it. `RateLimit-Remaining` lower than what we think is left means other
  clients spend the same budget: the difference is held as "foreign" slots until
  `RateLimit-Reset`. Our own slots that freed while the request travelled are forgiven,
  since the header may still count them.
- `RateLimit-Limit` replaces COUNT when `learn` is on. The window is not in any header: it is
  configured (default 600 s), except that the first response in an empty server window
  (Remaining == Limit - 1) reveals it, because Reset then counts down a whole window.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

DEFAULT_COUNT = 5000
DEFAULT_WINDOW_S = 600.0
# When every slot is held by a request still in flight, nothing says when one frees; poll.
IN_FLIGHT_POLL_S = 0.01
SERVER_RECHECK_S = 0.25
# Above these, a RateLimit-Reset value is an epoch timestamp rather than a number of seconds.
EPOCH_MS_THRESHOLD = 1e12
EPOCH_S_THRESHOLD = 1e9


@dataclass(frozen=True)
class RateLimitSettings:
    """Client budget: `count` requests per sliding `window_s` seconds; `learn` adopts server headers."""

    count: int = DEFAULT_COUNT
    window_s: float = DEFAULT_WINDOW_S
    learn: bool = True

    def __post_init__(self) -> None:
        if self.count < 1 or not self.window_s > 0:
            raise ValueError("rate limit needs count >= 1 and window > 0 seconds")

    @classmethod
    def parse(cls, text: str) -> RateLimitSettings:
        """`COUNT/SECONDS` (e.g. `500/10`) → settings; raises ValueError with a clear message."""
        count_text, sep, window_text = text.strip().partition("/")
        try:
            count, window = int(count_text), float(window_text)
        except ValueError:
            raise ValueError("rate limit must look like COUNT/SECONDS, e.g. 5000/600") from None
        if not sep:
            raise ValueError("rate limit must look like COUNT/SECONDS, e.g. 5000/600")
        return cls(count=count, window_s=window)


@dataclass(frozen=True)
class Observation:
    """RateLimit-* headers of one response, Reset already converted to seconds from now."""

    limit: int | None
    remaining: int | None
    reset_s: float | None


def reset_seconds(value: float, wall_now: float) -> float:
    """A RateLimit-Reset value as seconds from now: accepts seconds, epoch seconds or epoch ms."""
    if value >= EPOCH_MS_THRESHOLD:
        value = value / 1000.0 - wall_now
    elif value >= EPOCH_S_THRESHOLD:
        value = value - wall_now
    return max(0.0, value)


def _number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_observation(headers: Mapping[str, str], wall_now: float | None = None) -> Observation | None:
    """Read RateLimit-Limit/Remaining/Reset; None when the response carries none of them."""
    limit, remaining, reset = (
        _number(headers, h) for h in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")
    )
    if limit is None and remaining is None and reset is None:
        return None
    wall = time.time() if wall_now is None else wall_now
    return Observation(
        limit=int(limit) if limit is not None and limit >= 1 else None,
        remaining=int(remaining) if remaining is not None else None,
        reset_s=reset_seconds(reset, wall) if reset is not None else None,
    )


class SlidingWindow:
    """The pure budget. Times are monotonic seconds passed in by the caller."""

    def __init__(self, settings: RateLimitSettings) -> None:
        self.count = settings.count
        self.window_s = settings.window_s
        self.learn = settings.learn
        self._sent = 0  # sequence number of the last request started
        self._in_flight: dict[int, tuple[float, int]] = {}  # seq → (send time, _freed at send)
        self._freed = 0  # answered slots expired so far (a running count)
        self._done: deque[float] = deque()  # response times, ascending
        self._foreign: list[float] = []  # heap of expiry times of slots other clients hold
        # The server's own word, from the latest headers: slots it said were free (less what we
        # sent since), or when it said the next one frees. Our window may be longer than the
        # server's (it is a guess until learned); the server is believed over it.
        self._server_open = 0
        self._server_frees_at: float | None = None

    def _expire(self, now: float) -> None:
        while self._done and self._done[0] + self.window_s <= now:
            self._done.popleft()
            self._freed += 1
        while self._foreign and self._foreign[0] <= now:
            heapq.heappop(self._foreign)

    def used(self, now: float) -> int:
        """Slots held now: in flight, answered within the window, and held by others."""
        self._expire(now)
        return len(self._in_flight) + len(self._done) + len(self._foreign)

    def wait_time(self, now: float) -> float:
        """Seconds until a request may be sent (0 = now)."""
        if self.used(now) < self.count or self._server_open > 0:
            return 0.0
        frees = ([self._done[0] + self.window_s] if self._done else []) + self._foreign[:1]
        frees += [self._server_frees_at] if self._server_frees_at is not None else []
        wait = max(0.0, min(frees) - now) if frees else IN_FLIGHT_POLL_S
        # A request in flight brings the server's word back soon: look again then rather than
        # sleeping out a guessed window the answer may shorten.
        return min(wait, SERVER_RECHECK_S) if self._in_flight else wait

    def start(self, now: float) -> int:
        """Take a slot for a request being sent; returns its sequence number."""
        self._sent += 1
        self._in_flight[self._sent] = (now, self._freed)
        self._server_open = max(0, self._server_open - 1)
        return self._sent

    def finish(self, seq: int, now: float, seen: Observation | None = None) -> None:
        """The response to `seq` arrived (or the attempt failed) at `now`; apply its headers."""
        started = self._in_flight.pop(seq, None)
        if started is None:
            return
        self._done.append(now)
        if seen is not None:
            self._observe(seq, started[1], now, seen)

    def _observe(self, seq: int, freed_at_send: int, now: float, seen: Observation) -> None:
        if self.learn and seen.limit is not None:
            self.count = seen.limit
            # The only request in the server's window is ours, so Reset spans a whole window,
            # rounded up to a whole second: keep a configured window that rounds to the same.
            reset = seen.reset_s
            if seen.remaining == seen.limit - 1 and reset and not reset - 1 < self.window_s <= reset:
                self.window_s = reset
        if seen.remaining is None:
            return
        sent_after = sum(1 for s in self._in_flight if s > seq)
        server_left = seen.remaining - sent_after
        our_left = self.count - self.used(now)
        # Our slots that freed since this request was sent may still have counted on the
        # server when it answered: the header is that old.
        slack = self._freed - freed_at_send
        deficit = our_left - server_left - slack
        if deficit > 0:
            until = now + (seen.reset_s if seen.reset_s is not None else self.window_s)
            for _ in range(min(deficit, self.count)):
                heapq.heappush(self._foreign, until)
        self._server_open = max(0, server_left)
        if server_left > 0 or seen.reset_s is None:
            self._server_frees_at = None
        elif self._server_frees_at is None or self._server_frees_at <= now:
            self._server_frees_at = now + seen.reset_s
        else:  # each announcement is a bound (a slot frees by then): keep the soonest still ahead
            self._server_frees_at = min(self._server_frees_at, now + seen.reset_s)


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class RateLimiter:
    """Asyncio wrapper: `await acquire()` before sending, `release(seq, headers)` after."""

    def __init__(self, settings: RateLimitSettings | None = None, *, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.window = SlidingWindow(settings or RateLimitSettings())
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self.waited_s = 0.0  # total time requests spent waiting for a slot

    async def acquire(self) -> int:
        """Wait for a slot (first come, first served) and take it; returns the request's sequence number."""
        async with self._lock:
            while (delay := self.window.wait_time(self._clock())) > 0:
                self.waited_s += delay
                await self._sleep(delay)
            return self.window.start(self._clock())

    def release(self, seq: int, headers: Mapping[str, str] | None = None) -> Observation | None:
        """Return the slot's request as answered; headers (if any) correct the budget."""
        seen = parse_observation(headers) if headers is not None else None
        self.window.finish(seq, self._clock(), seen)
        return seen
