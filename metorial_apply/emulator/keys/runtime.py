"""The `KeyEmulator`: one service's keys, faults, revocation window and counters behind one app.

In-process users reach it as `app.state.key_emulator` (or `key_emulator_of(app)`); the
`/_emulator/*` admin routes call the same methods.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..faults import Faults
from ..settings import FaultSettings
from ..store import Store
from .choices import DEFAULT_REVOKE_DELAY_MS
from .keystore import KeyRow, KeyStore
from .service import Credentials, KeyService

KEY_APIS = ("metlo", "metal")


@dataclass(frozen=True)
class KeySettings:
    """Everything `create_key_app` needs. `db_path=None` keeps keys in memory."""

    api: str = "metlo"
    db_path: str | None = None
    faults: FaultSettings = field(default_factory=FaultSettings)
    seed: int | None = None  # seeds faults unless faults.seed is set; never secrets
    revoke_delay_ms: float = DEFAULT_REVOKE_DELAY_MS

    def __post_init__(self) -> None:
        if self.api not in KEY_APIS:
            raise ValueError(f"api must be one of {', '.join(KEY_APIS)}, not {self.api!r}")
        check_delay(self.revoke_delay_ms)
        self.faults.check()

    @property
    def fault_seed(self) -> int | None:
        return self.faults.seed if self.faults.seed is not None else self.seed


def check_delay(value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ValueError("revoke_delay_ms must be a number >= 0")
    return float(value)


class KeyEmulator:
    def __init__(self, settings: KeySettings, service: KeyService, clock: Callable[[], float] = time.time) -> None:
        self.settings, self.service, self.clock = settings, service, clock
        self.store = Store(settings.db_path, settings.seed)
        self.keys = KeyStore(self.store, service.api)
        self.faults = Faults(settings.faults, settings.fault_seed)
        self.revoke_delay_ms = settings.revoke_delay_ms
        self.secret_field: str | None = None  # None: the service's own (keys/choices.py)
        self._stats_lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self._seed_bootstrap(force=False)

    def _seed_bootstrap(self, force: bool) -> None:
        """The bootstrap key, once per database: deleting it stays deleted across restarts."""
        flag = f"{self.service.api}_bootstrap_seeded"
        with self.store.transaction():
            if force or self.store.meta(flag) is None:
                row, secret = self.service.bootstrap(self)
                self.keys.add(row, secret)
                self.store.set_meta(flag, "1")

    def authenticate(self, credentials: Credentials | None) -> KeyRow | None:
        """The key these credentials belong to, if it authenticates now (revocation window included)."""
        if credentials is None:
            return None
        now = self.clock()
        for row in self.keys.by_secret(credentials.api_key):
            if self.service.uses_client_id and row.identity != credentials.client_id:
                continue
            if row.revoked_at is None or now < row.revoked_at + self.revoke_delay_ms / 1000.0:
                return row
        return None

    def revoke(self, row: KeyRow, now: float) -> None:
        """Delete a key (inside a transaction); forget keys whose window has passed."""
        self.keys.revoke(row, now)
        self.keys.purge(now - self.revoke_delay_ms / 1000.0)

    # --- counters ------------------------------------------------------------------------------

    def count_call(self, route: str, status: int) -> None:
        with self._stats_lock:
            self.calls[route] += 1
            self.statuses[str(status)] += 1

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            calls, statuses = dict(sorted(self.calls.items())), dict(sorted(self.statuses.items()))
        active = self.keys.count_active()
        return {
            "api": self.service.api, "total_calls": sum(calls.values()), "calls": calls, "statuses": statuses,
            "faults": dict(self.faults.fired), "fault_settings": self.faults.snapshot(),
            "revoke_delay_ms": self.revoke_delay_ms,
            "keys": {"active": active, "deleted": len(self.keys.all()) - active},
        }

    def key_views(self) -> list[dict[str, Any]]:
        """Every stored key, deleted ones in their window too, without any secret."""
        now = self.clock()
        return [
            {"id": r.id, "name": r.name, "identity": r.identity, "for": r.key_for, "last_four": r.last_four,
             "created": r.created, "status": "active" if r.active else "deleted",
             "authenticates": r.active or now < (r.revoked_at or 0) + self.revoke_delay_ms / 1000.0}
            for r in self.keys.all()
        ]

    def reset(self) -> None:
        """Wipe every key, reseed the bootstrap key, zero the counters."""
        with self._stats_lock:
            self.calls.clear()
            self.statuses.clear()
        self.faults.reset_counters()
        with self.store.transaction():
            self.keys.clear()
        self._seed_bootstrap(force=True)

    def close(self) -> None:
        self.store.close()
