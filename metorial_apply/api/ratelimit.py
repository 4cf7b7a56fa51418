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
- A share (`--rate-limit 40%`) caps our own slots at that share of COUNT (as learned from
  `RateLimit-Limit`, which counts every client of the organization), while our slots plus the
  foreign ones still stay under COUNT: we never take more than the share, nor push the
  organization over its limit when others use more than the rest.
- AIMD (with a share): a 429 that says the window is spent (RateLimit-Remaining 0, or no headers) halves our
  cap (once per burst: only a request sent after the last cut cuts again; never below 1/16 of
  it, nor one slot), and the cap grows back linearly, half the full cap per window, so a halved
  cap is whole again one window later. A 429 with room left in the window (a burst guard,
  another limit) is the retry's business, not the budget's: it does not cut.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

DEFAULT_COUNT = 5000
DEFAULT_WINDOW_S = 600.0
# When every slot is held by a request still in flight, nothing says when one frees; poll.
IN_FLIGHT_POLL_S = 0.01
SERVER_RECHECK_S = 0.25
# AIMD: a 429 multiplies our cap by CUT; it regains RECOVER_PER_WINDOW of the full cap per window.
CUT = 0.5
RECOVER_PER_WINDOW = 0.5
MIN_SCALE = 1 / 16  # the cap never falls below this share of itself (nor below one slot)
SHARE_FORM = "rate limit must look like COUNT/SECONDS (e.g. 5000/600) or a share PERCENT% (e.g. 40%, or 40%/600)"
# Date's whole seconds, and the time the answer took to arrive: within this, the clocks agree.
DATE_SLACK_S = 2.0
# Above these, a RateLimit-Reset value is an epoch timestamp rather than a number of seconds.
EPOCH_MS_THRESHOLD = 1e12
EPOCH_S_THRESHOLD = 1e9


@dataclass(frozen=True)
class RateLimitSettings:
    """Client budget: `count` requests per sliding `window_s` seconds; `learn` adopts server headers;
    `share` (0-1] takes only that part of `count` for ourselves (None: all of it)."""

    count: int = DEFAULT_COUNT
    window_s: float = DEFAULT_WINDOW_S
    learn: bool = True
    share: float | None = None

    def __post_init__(self) -> None:
        if self.count < 1 or not self.window_s > 0 or not math.isfinite(self.window_s):
            raise ValueError("rate limit needs count >= 1 and window > 0 seconds")
        if self.share is not None and not 0 < self.share <= 1:
            raise ValueError("a rate-limit share must be more than 0% and at most 100%")

    @classmethod
    def parse(cls, text: str) -> RateLimitSettings:
        """`COUNT/SECONDS` (e.g. `500/10`), `PERCENT%` or `PERCENT%/SECONDS` (a share of the
        organization's limit, e.g. `40%`) → settings; raises ValueError with a clear message."""
        head, sep, window_text = text.strip().partition("/")
        is_share = head.endswith("%")
        try:
            window = float(window_text) if sep else DEFAULT_WINDOW_S
            number = float(head[:-1]) if is_share else int(head)
        except ValueError:
            raise ValueError(SHARE_FORM) from None
        if is_share:
            return cls(window_s=window, share=number / 100)
        if not sep:
            raise ValueError(SHARE_FORM)
        return cls(count=int(number), window_s=window)


@dataclass(frozen=True)
class Observation:
    """RateLimit-* headers of one response, Reset already converted to seconds from now."""

    limit: int | None
    remaining: int | None
    reset_s: float | None


def server_clock(headers: Mapping[str, str]) -> float:
    """The server's time when it answered: this machine's clock while the response's `Date`
    header agrees with it to within DATE_SLACK_S (Date has whole seconds, our clock is finer),
    else the Date itself. An epoch in RateLimit-Reset or Retry-After is the server's: measured
    against a clock minutes or a year off it would wait that much too long, or not at all."""
    local = time.time()
    raw = headers.get("date")
    if not raw:
        return local
    try:
        served = parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return local
    return local if abs(served - local) <= DATE_SLACK_S else served


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
    wall = server_clock(headers) if wall_now is None else wall_now
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
        self.shared = settings.share is not None  # our own cap and AIMD apply only with a share
        self.share = settings.share if settings.share is not None else 1.0
        self.scale = 1.0  # AIMD factor on our cap: cut by a 429, grows back with time
        self._scaled_at: float | None = None  # when `scale` was last brought up to date
        self._cut_after = 0  # a 429 cuts only for a request sent after the last cut (seq > this)

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

    def own(self, now: float) -> int:
        """Our slots held now: in flight and answered within the window."""
        self._expire(now)
        return len(self._in_flight) + len(self._done)

    def _recover(self, now: float) -> None:
        if self._scaled_at is not None and self.scale < 1.0:
            self.scale = min(1.0, self.scale + RECOVER_PER_WINDOW * (now - self._scaled_at) / self.window_s)
        self._scaled_at = now

    def cap(self, now: float) -> int:
        """How many slots we may hold now: our share of COUNT, times the AIMD factor; at least one."""
        self._recover(now)
        return max(1, math.floor(self.count * self.share * self.scale + 1e-9))

    def wait_time(self, now: float) -> float:
        """Seconds until a request may be sent (0 = now)."""
        # Our own cap binds only with a share: without one, the organization's window (and the
        # server's word on it, which knows the real window where ours is a guess) decides alone.
        capped = self.shared and self.own(now) >= self.cap(now)
        own_wait = self._own_frees(now) if capped else 0.0
        return max(own_wait, self._total_wait(now))

    def _total_wait(self, now: float) -> float:
        """Seconds until the organization's window (ours and others' slots) admits one more. The
        server's word, when it says a slot is open, is believed over our guessed window."""
        if self.used(now) < self.count or self._server_open > 0:
            return 0.0
        frees = ([self._done[0] + self.window_s] if self._done else []) + self._foreign[:1]
        frees += [self._server_frees_at] if self._server_frees_at is not None else []
        wait = max(0.0, min(frees) - now) if frees else IN_FLIGHT_POLL_S
        # A request in flight brings the server's word back soon: look again then rather than
        # sleeping out a guessed window the answer may shorten.
        return min(wait, SERVER_RECHECK_S) if self._in_flight else wait

    def _own_frees(self, now: float) -> float:
        """Seconds until our cap admits one more: an answered slot expires, or the cap grows."""
        frees = [self._done[0] + self.window_s - now] if self._done else []
        if self.scale < 1.0:
            target = (self.own(now) + 1) / (self.count * self.share)  # the scale that admits one more
            frees.append((min(1.0, target) - self.scale) * self.window_s / RECOVER_PER_WINDOW)
        return max(0.0, min(frees)) if frees else IN_FLIGHT_POLL_S

    def start(self, now: float) -> int:
        """Take a slot for a request being sent; returns its sequence number."""
        self._sent += 1
        self._in_flight[self._sent] = (now, self._freed)
        self._server_open = max(0, self._server_open - 1)
        return self._sent

    def finish(self, seq: int, now: float, seen: Observation | None = None, status: int | None = None) -> None:
        """The response to `seq` (HTTP `status`, None if none came) arrived at `now`; apply its headers."""
        started = self._in_flight.pop(seq, None)
        if started is None:
            return
        self._done.append(now)
        if status == 429 and self.shared and seq > self._cut_after and (seen is None or not seen.remaining):
            self._recover(now)
            self.scale = max(MIN_SCALE, self.scale * CUT)
            self._cut_after = self._sent  # what is in flight now was sent before this cut
        if seen is not None:
            self._observe(seq, started, now, seen)

    def _learn_window(self, seen: Observation, round_trip: float) -> None:
        """The only request in the server's window is ours, so Reset spans a whole window, less
        the way back (an epoch Reset is read against our clock after the answer travelled), rounded
        up to a whole second. Reset plus the round trip bounds the window from above: keep a
        configured window consistent with it, else take the bound (a shorter guess frees slots
        before the server does)."""
        reset = seen.reset_s
        if seen.remaining != seen.limit - 1 or not reset:
            return
        bound = reset + round_trip
        if not reset - 1 < self.window_s <= bound:
            self.window_s = bound

    def _observe(self, seq: int, started: tuple[float, int], now: float, seen: Observation) -> None:
        if self.learn and seen.limit is not None:
            self.count = seen.limit
            self._learn_window(seen, now - started[0])
        if seen.remaining is None:
            return
        sent_after = sum(1 for s in self._in_flight if s > seq)
        server_left = seen.remaining - sent_after
        our_left = self.count - self.used(now)
        # Our slots that freed since this request was sent may still have counted on the
        # server when it answered: the header is that old.
        slack = self._freed - started[1]
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

    def release(self, seq: int, headers: Mapping[str, str] | None = None,
                status: int | None = None) -> Observation | None:
        """Return the slot's request as answered; headers (if any) correct the budget, a 429 cuts it."""
        seen = parse_observation(headers) if headers is not None else None
        self.window.finish(seq, self._clock(), seen, status)
        return seen
