"""Seeded fault injection: latency, 500s, 429 bursts, dropped write responses.

Every API request draws the same number of random values in the same order
(`choices.FAULT_DRAW_ORDER`), so a sequential run with a fixed seed faults the same
requests every time, whatever the fault rates are switched to mid-run.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from .settings import FaultSettings

FAULT_TYPES = ("latency", "error", "burst_429", "drop")


@dataclass(frozen=True)
class FaultPlan:
    """What happens to one request, decided before it executes."""

    delay_seconds: float = 0.0
    burst_429: bool = False
    error: bool = False
    drop: bool = False  # applies only if the request turns out to be a committed write


class Faults:
    def __init__(self, settings: FaultSettings, seed: int | None) -> None:
        self._lock = threading.Lock()
        self.settings = settings
        self._rng = random.Random(seed)
        self._burst_left = 0
        self.forced = {"burst_429": 0, "error": 0, "drop": 0}  # "next N requests" switches
        self.fired = dict.fromkeys(FAULT_TYPES, 0)

    def configure(self, changes: dict[str, Any]) -> FaultSettings:
        """Apply a partial update; `seed` restarts the random sequence; `*_next` force faults."""
        changes = dict(changes)
        forced = {k: changes.pop(f"{k}_next") for k in list(self.forced) if f"{k}_next" in changes}
        for name, count in forced.items():
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ValueError(f"{name}_next must be an integer >= 0")
        with self._lock:
            self.settings = self.settings.with_changes(changes)
            if "seed" in changes:
                self._rng = random.Random(self.settings.seed)
                self._burst_left = 0
            self.forced.update(forced)
        return self.settings

    def reset_counters(self) -> None:
        with self._lock:
            self.fired = dict.fromkeys(FAULT_TYPES, 0)

    def _take_forced(self, name: str) -> bool:
        if self.forced[name] > 0:
            self.forced[name] -= 1
            return True
        return False

    def draw(self) -> FaultPlan:
        with self._lock:
            s = self.settings
            jitter, burst, error, drop = (self._rng.random() for _ in range(4))
            delay = (s.latency_ms + jitter * s.jitter_ms) / 1000.0
            if self._burst_left == 0 and s.burst_429_rate > 0 and burst < s.burst_429_rate:
                self._burst_left = s.burst_429_length
            in_burst = self._take_forced("burst_429") or self._burst_left > 0
            if self._burst_left > 0:
                self._burst_left -= 1
            failed = not in_burst and (self._take_forced("error") or error < s.error_rate)
            dropped = drop < s.drop_rate
            if delay > 0:
                self.fired["latency"] += 1
            self.fired["burst_429"] += in_burst
            self.fired["error"] += failed
            return FaultPlan(delay, in_burst, failed, dropped)

    def take_drop(self, planned: bool) -> bool:
        """Whether a committed write's response is dropped (forced drops apply to writes only)."""
        with self._lock:
            dropped = self._take_forced("drop") or planned
            self.fired["drop"] += dropped
            return dropped

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            forced = {f"{k}_next": v for k, v in self.forced.items()}
            return {**self.settings.as_json(), **forced}
