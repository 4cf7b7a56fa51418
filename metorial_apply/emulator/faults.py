"""Seeded fault injection: latency, 500s, 429 bursts, dropped write responses, committed
writes answered 500, and lists that lag behind writes.

Every API request draws the same number of random values in the same order
(`choices.FAULT_DRAW_ORDER`), so a sequential run with a fixed seed faults the same
requests every time, whatever the fault rates are switched to mid-run. "Commit, then answer
500" draws from a second generator of its own, once per committed write, so adding it left
every earlier seed's faults where they were.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from .settings import FaultSettings

FAULT_TYPES = ("latency", "error", "burst_429", "drop", "error_after_commit")


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
        self._commit_rng = _commit_rng(seed)
        self._burst_left = 0
        self.lag_salt = _lag_salt(seed)
        # "next N requests" switches (drop and error_after_commit: the next N committed writes)
        self.forced = {"burst_429": 0, "error": 0, "drop": 0, "error_after_commit": 0}
        # Forced write faults may aim at one collection (e.g. "/provider-deployments"), so a test
        # can fault a resource's create whatever other writes (a stack lock's) come first.
        self.forced_path: str | None = None
        self.fired = dict.fromkeys(FAULT_TYPES, 0)

    def configure(self, changes: dict[str, Any]) -> FaultSettings:
        """Apply a partial update; `seed` restarts the random sequence; `*_next` force faults."""
        changes = dict(changes)
        forced = {k: changes.pop(f"{k}_next") for k in list(self.forced) if f"{k}_next" in changes}
        path = changes.pop("next_path", self.forced_path)
        if path is not None and (not isinstance(path, str) or not path.startswith("/")):
            raise ValueError("next_path must be a path such as /provider-deployments, or null")
        for name, count in forced.items():
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ValueError(f"{name}_next must be an integer >= 0")
        with self._lock:
            self.settings = self.settings.with_changes(changes)
            if "seed" in changes:
                self._rng = random.Random(self.settings.seed)
                self._commit_rng = _commit_rng(self.settings.seed)
                self.lag_salt = _lag_salt(self.settings.seed)
                self._burst_left = 0
            self.forced.update(forced)
            self.forced_path = path
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

    def _aimed_at(self, path: str) -> bool:
        return self.forced_path is None or path == self.forced_path or path.startswith(self.forced_path + "/")

    def take_drop(self, planned: bool, path: str = "/") -> bool:
        """Whether a committed write's response is dropped (forced drops apply to writes only, of
        `next_path` when set)."""
        with self._lock:
            dropped = (self._aimed_at(path) and self._take_forced("drop")) or planned
            self.fired["drop"] += dropped
            return dropped

    def take_error_after_commit(self, path: str = "/") -> bool:
        """Whether a write that just committed is answered 500 anyway (drawn once per committed write)."""
        with self._lock:
            drawn = self._commit_rng.random() < self.settings.error_after_commit_rate
            fired = (self._aimed_at(path) and self._take_forced("error_after_commit")) or drawn
            self.fired["error_after_commit"] += fired
            return fired

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            forced = {f"{k}_next": v for k, v in self.forced.items()}
            return {**self.settings.as_json(), **forced, "next_path": self.forced_path}


def _commit_rng(seed: int | None) -> random.Random:
    return random.Random(None if seed is None else f"error_after_commit:{seed}")


def _lag_salt(seed: int | None) -> str:
    """What list lag hashes object ids with: the seed's, so emulators given one seed hide the same
    objects for the same time; unseeded, a random one."""
    return f"list_lag:{seed}" if seed is not None else f"list_lag:random:{random.getrandbits(64)}"
