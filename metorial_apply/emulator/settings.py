"""Emulator settings: keys, rate limit, faults, storage. Frozen; runtime changes make copies."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from .choices import RATE_LIMIT_PRESETS

DEFAULT_SECRET_KEY = "metorial_sk_local_emulator_secret_key"
DEFAULT_PUBLISHABLE_KEY = "metorial_pk_local_emulator_publishable_key"


@dataclass(frozen=True)
class FaultSettings:
    """Switchable faults; all zero means a well-behaved API."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0  # share of API requests answered 500 before executing
    drop_rate: float = 0.0  # share of committed writes whose response is dropped
    error_after_commit_rate: float = 0.0  # share of committed writes answered 500 (the write stays)
    burst_429_rate: float = 0.0  # probability that a request starts a 429 burst
    burst_429_length: int = 3  # requests per burst, including the one starting it
    list_lag_ms: float = 0.0  # lists omit every object for this long after its creation
    list_lag_jitter_ms: float = 0.0  # and each object for its own seeded share of this on top
    # The March engine: a deployment PATCH without `tool_filters` resets them to all tools (choices: PATCH)
    patch_resets_tool_filters: bool = False
    seed: int | None = None

    def with_changes(self, changes: dict[str, Any]) -> FaultSettings:
        """Validated copy; raises ValueError naming the bad field."""
        allowed = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
        merged = replace(self, **changes)
        merged.check()
        return merged

    def check(self) -> None:
        for name in ("latency_ms", "jitter_ms", "list_lag_ms", "list_lag_jitter_ms"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a number >= 0")
        for name in ("error_rate", "drop_rate", "error_after_commit_rate", "burst_429_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number between 0 and 1")
        if not isinstance(self.burst_429_length, int) or self.burst_429_length < 1:
            raise ValueError("burst_429_length must be an integer >= 1")
        if not isinstance(self.patch_resets_tool_filters, bool):
            raise ValueError("patch_resets_tool_filters must be true or false")
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)):
            raise ValueError("seed must be an integer or null")

    def as_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class EmulatorSettings:
    """Everything `create_app` needs. `db_path=None` keeps state in memory."""

    db_path: str | None = None
    secret_keys: tuple[str, ...] = (DEFAULT_SECRET_KEY,)
    publishable_keys: tuple[str, ...] = (DEFAULT_PUBLISHABLE_KEY,)
    rate_limit_count: int = RATE_LIMIT_PRESETS["org"][0]
    rate_limit_window_seconds: float = RATE_LIMIT_PRESETS["org"][1]
    faults: FaultSettings = field(default_factory=FaultSettings)
    seed: int | None = None  # seeds ids' random suffixes and, unless faults.seed is set, faults
    cascade_delay_ms: float = 0.0
    # Added to every timestamp this emulator writes: two emulators sharing one SQLite file with
    # different offsets are one API served by machines whose clocks disagree (choices.py, Clocks).
    clock_offset_s: float = 0.0

    def __post_init__(self) -> None:
        # Accept lists from callers but keep the dataclass hashable and immutable.
        object.__setattr__(self, "secret_keys", tuple(self.secret_keys))
        object.__setattr__(self, "publishable_keys", tuple(self.publishable_keys))
        if self.rate_limit_count < 1 or self.rate_limit_window_seconds <= 0:
            raise ValueError("rate limit needs count >= 1 and window_seconds > 0")
        self.faults.check()

    @property
    def fault_seed(self) -> int | None:
        return self.faults.seed if self.faults.seed is not None else self.seed


def parse_rate_limit(text: str) -> tuple[int, float]:
    """`org` | `ip` | `dev` | `COUNT/SECONDS` → (count, window seconds)."""
    preset = RATE_LIMIT_PRESETS.get(text.strip().lower())
    if preset is not None:
        return preset
    count_text, sep, window_text = text.partition("/")
    try:
        count, window = int(count_text), float(window_text)
    except ValueError:
        raise ValueError(f"rate limit must be COUNT/SECONDS or one of {', '.join(RATE_LIMIT_PRESETS)}") from None
    if not sep or count < 1 or window <= 0:
        raise ValueError("rate limit needs COUNT >= 1 and SECONDS > 0")
    return count, window
