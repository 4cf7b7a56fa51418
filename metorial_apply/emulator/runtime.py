"""The `Emulator`: store, catalog, rate limit, faults and counters behind one app.

In-process users reach it as `app.state.emulator` to read stats, switch faults or reset
without HTTP; the `/_emulator/*` admin routes call the same methods.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from typing import Any

from .catalog import Catalog, load_catalog
from .faults import Faults
from .kinds import CATALOG_KINDS, MANAGED_KINDS, REGISTRY, KindSpec
from .ratelimit import SlidingWindow
from .settings import EmulatorSettings
from .store import Record, Store

SEEDED_FLAG = "default_deployments_seeded"


class Emulator:
    def __init__(self, settings: EmulatorSettings, catalog: Catalog | None = None) -> None:
        self.settings = settings
        self.registry: dict[str, KindSpec] = REGISTRY
        self.catalog = catalog or load_catalog()
        self.store = Store(settings.db_path, settings.seed, settings.clock_offset_s)
        offset = settings.clock_offset_s
        self.rate_limit = SlidingWindow(settings.rate_limit_count, settings.rate_limit_window_seconds,
                                        wall=lambda: time.time() + offset)
        self.faults = Faults(settings.faults, settings.fault_seed)
        self.secret_keys = frozenset(settings.secret_keys)
        self.publishable_keys = frozenset(settings.publishable_keys)
        self.cascade_delay_ms = settings.cascade_delay_ms
        self._stats_lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.rate_limited = 0
        self.pending_cascades: set[asyncio.Task[None] | asyncio.TimerHandle] = set()
        self._seed_store()

    def _seed_store(self) -> None:
        with self.store.transaction():
            self.store.delete_kinds(list(CATALOG_KINDS))
            self.store.save_many(self.catalog.records())
            if self.store.meta(SEEDED_FLAG) is None:
                self._seed_default_deployments()
                self.store.set_meta(SEEDED_FLAG, "1")

    def _seed_default_deployments(self) -> None:
        """The platform's auto-created deployment for each provider needing no config."""
        for provider_id, provider in self.catalog.providers.items():
            if self.catalog.needs_config(provider_id):
                continue
            now = self.store.now_iso()
            refs = {"provider_id": provider_id, "version_id": self.catalog.current_version[provider_id]}
            doc = {
                "metadata": {},
                "tool_filters": [],
                "is_default": True,
                "locked_version_id": None,
                "default_config_id": None,
            }
            name = f"Default Deployment for {provider['name']}"
            ident = self.store.new_id(self.registry["deployment"].prefix or "pde")
            self.store.save(
                Record(ident, "deployment", "active", name, "Auto-created by Metorial", now, now, refs, doc)
            )

    # --- counters ------------------------------------------------------------------------------

    def count_call(self, route: str, status: int) -> None:
        with self._stats_lock:
            self.calls[route] += 1
            self.statuses[str(status)] += 1
            if status == 429:
                self.rate_limited += 1

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            calls = dict(sorted(self.calls.items()))
            statuses = dict(sorted(self.statuses.items()))
            total, limited = sum(self.calls.values()), self.rate_limited
        return {
            "total_calls": total, "calls": calls, "statuses": statuses, "rate_limited": limited,
            "faults": dict(self.faults.fired), "fault_settings": self.faults.snapshot(),
            "rate_limit": self.rate_limit.info(), "objects": self.store.status_counts(),
            "pending_cascades": len(self.pending_cascades),
        }

    def reset_stats(self) -> None:
        with self._stats_lock:
            self.calls.clear()
            self.statuses.clear()
            self.rate_limited = 0
        self.faults.reset_counters()

    def reset(self, stats_only: bool = False) -> None:
        """Wipe managed objects (keeping the catalog, reseeding defaults) and counters."""
        self.reset_stats()
        self.rate_limit.clear()
        if stats_only:
            return
        for pending in list(self.pending_cascades):
            pending.cancel()
        self.pending_cascades.clear()
        with self.store.transaction():
            self.store.delete_kinds(list(MANAGED_KINDS))
            self._seed_default_deployments()
            self.store.set_meta(SEEDED_FLAG, "1")

    def objects(self, kind: str | None, metadata: dict[str, str], status: str | None) -> list[Record]:
        """Raw rows (archived included) for tests: by kind and `metadata` key = value."""
        where, params = ["1"], []
        if kind:
            where.append("kind = ?")
            params.append(kind)
        if status:
            where.append("status = ?")
            params.append(status)
        for key, value in metadata.items():
            where.append("json_extract(doc, ?) = ?")
            params += ['$.metadata."' + key.replace('"', '""') + '"', value]
        return self.store.select(" AND ".join(where), params)

    def close(self) -> None:
        for pending in list(self.pending_cascades):
            pending.cancel()  # a cascade firing after close would hit a closed connection
        self.pending_cascades.clear()
        self.store.close()
