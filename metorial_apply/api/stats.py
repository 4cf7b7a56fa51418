"""What the client observed: one record per finished call (for journals and observers) and the
counters behind `--stats`."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CallRecord:
    """One finished API call (all its attempts), for journals and observers."""

    method: str
    path: str
    kind: str | None
    name: str | None
    status: int | None  # None when no response arrived
    duration_s: float
    retries: int


@dataclass
class RequestStats:
    """Counters for `--stats`: calls by method and kind, pages, retries, 429s, wall time."""

    by_method: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)  # kind, or the path for catalog calls
    pages: int = 0
    # The longest run of pages of one list that had to wait for one another, by kind (or path):
    # what a list costs in round trips, whatever its pages cost in calls.
    chains: dict[str, int] = field(default_factory=dict)
    bytes_read: int = 0  # response bodies, as decoded
    retries: int = 0
    rate_limited: int = 0  # 429 responses received (each retried or raised)
    limiter_wait_s: float = 0.0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def calls(self) -> int:
        return sum(self.by_method.values())

    def chain(self, key: str, pages: int) -> None:
        self.chains[key] = max(pages, self.chains.get(key, 0))

    @property
    def longest_chain(self) -> int:
        return max(self.chains.values(), default=0)

    @property
    def elapsed_s(self) -> float:
        return (self.finished if self.finished is not None else time.monotonic()) - self.started

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls, "by_method": dict(sorted(self.by_method.items())),
            "by_kind": dict(sorted(self.by_kind.items())), "pages": self.pages,
            "longest_chain": self.longest_chain, "retries": self.retries,
            "rate_limited": self.rate_limited, "limiter_wait_s": round(self.limiter_wait_s, 3),
            "elapsed_s": round(self.elapsed_s, 3),
        }
