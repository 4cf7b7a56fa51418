"""Open runs: how a run that was killed before it merged what it wrote into the stack index still
loses nothing, and how a copied stamp still wins nothing. Pure.

Before its first write a run adds an open entry to the index head: its run id, its lock record,
the server time T0 it began writing, the lock's TTL and the ids it is about to import (they
existed before T0, so only this list can make them ours). Every stamp the run writes carries its
run id. An object the index does not list is ours only when its stamp names a run whose entry is
still open and it is one of that run's imports or was created inside the run's window:
[T0 − SKEW_S, the run's last lock renewal + TTL + SKEW_S]. A run past that window cannot have
written anything (it stops when it cannot renew the lock), so a stamp copied onto any other
object, older or newer, claims nothing. The run that finds an open entry after that run's lock
expired claims what the window allows, merges it into the next generation and closes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from metorial_apply.core.lock import parse_time
from metorial_apply.core.model import Frozen, Stamp

# Server clocks of one API may differ (several servers behind one URL); an object created by the
# run on a server a little behind the one that stamped T0 must still fall in the window.
SKEW_S = 10.0
MAX_IMPORTS = 2000  # ids one run may import: the open entry lives in the head, whose metadata is bounded
MAX_OPEN = 64  # open entries a head may carry (each is a killed run nobody has merged yet)
_RUN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ID = re.compile(r"[A-Za-z0-9_]{1,100}")


class OpenRun(Frozen):
    """A run that began writing and has not merged yet."""

    run: str
    lock: str  # its lock record's id: the record's updated_at is its last renewal
    t0: str  # server time, ISO 8601
    ttl_s: float
    imports: tuple[str, ...] = ()

    def fields(self) -> dict[str, Any]:
        return {"lock": self.lock, "t0": self.t0, "ttl": self.ttl_s, "imports": list(self.imports)}

    def window(self, renewed: datetime | None) -> tuple[datetime, datetime] | None:
        """When its objects may have been created; `renewed` is its lock record's last renewal
        (None when the record is gone: then T0 + TTL, the latest it could have written without
        renewing). None when T0 is unreadable: nothing is claimed."""
        start = parse_time(self.t0)
        if start is None:
            return None
        last = max(renewed, start) if renewed is not None else start
        skew = timedelta(seconds=SKEW_S)
        return start - skew, last + timedelta(seconds=self.ttl_s) + skew

    def claims(self, obj: Mapping[str, Any], stamp: Stamp, renewed: datetime | None) -> bool:
        """Whether this open run made (or imported) `obj`, whose stamp names it."""
        if stamp.run != self.run or not isinstance(obj.get("id"), str):
            return False
        if obj["id"] in self.imports:
            return True
        window, created = self.window(renewed), parse_time(obj.get("created_at"))
        return window is not None and created is not None and window[0] <= created <= window[1]


def parse_open(value: Any, what: str, error: type[Exception]) -> tuple[OpenRun, ...]:
    """The head's open entries (`{run: {lock, t0, ttl, imports}}` as JSON); absent means none."""
    if value is None:
        return ()
    try:
        raw = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        raw = None
    if not isinstance(raw, dict) or len(raw) > MAX_OPEN:
        raise error(f"{what} are malformed")
    return tuple(_open_run(run, fields, what, error) for run, fields in sorted(raw.items()))


def _open_run(run: str, fields: Any, what: str, error: type[Exception]) -> OpenRun:
    ok = (_RUN.fullmatch(run) and isinstance(fields, dict) and set(fields) == {"lock", "t0", "ttl", "imports"}
          and isinstance(fields["lock"], str) and _ID.fullmatch(fields["lock"]) and isinstance(fields["t0"], str)
          and isinstance(fields["ttl"], int | float) and 1 <= fields["ttl"] <= 86_400
          and isinstance(fields["imports"], list) and len(fields["imports"]) <= MAX_IMPORTS
          and all(isinstance(i, str) and _ID.fullmatch(i) for i in fields["imports"]))
    if not ok:
        raise error(f"{what} are malformed")
    return OpenRun(run=run, lock=fields["lock"], t0=fields["t0"], ttl_s=float(fields["ttl"]),
                   imports=tuple(fields["imports"]))
