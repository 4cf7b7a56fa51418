"""The apply journal: one JSON line per API call and per finished change, flushed as written,
so a killed run still leaves a faithful record. It never holds a secret: calls are described
by method, path without query, status and timing; changes by address, outcome and API message.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import IO, Any

from metorial_apply.apply.report import ChangeResult
from metorial_apply.core.errors import UsageError
from metorial_apply.core.model import Address
from metorial_apply.core.scrub import SECRETS


def utc_stamp(now: float) -> str:
    """ISO 8601 UTC with milliseconds, from ONE clock reading: `time.gmtime()` without an
    argument reads the coarse clock, which lags `time.time()` by a tick, so pairing the two
    dated entries just after each second boundary a whole second early."""
    millis = int(now * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + f".{millis % 1000:03d}Z"


class Journal:
    """Appends to a JSON-lines file; every line carries the run id and a UTC timestamp."""

    def __init__(self, stream: IO[str], *, stack: str | None = None) -> None:
        self._stream = stream
        self.run = uuid.uuid4().hex[:12]
        self._actions: dict[str, str] = {}
        self._write({"event": "run", "stack": stack})

    @classmethod
    def open(cls, path: Path, *, stack: str | None = None) -> Journal:
        try:
            # 0600 from the first byte (and tightened if it existed): a journal names every
            # resource, id and API message of the organization, so it is nobody else's to read.
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise UsageError(f"cannot open journal {path}: {exc.strerror}") from None
        os.fchmod(fd, 0o600)
        return cls(os.fdopen(fd, "a", encoding="utf-8"), stack=stack)

    def close(self) -> None:
        self._stream.close()

    def _write(self, entry: dict[str, Any]) -> None:
        stamp = utc_stamp(time.time())
        line = {"ts": stamp, "run": self.run} | entry
        self._stream.write(SECRETS.scrub(json.dumps(line, ensure_ascii=False, sort_keys=False)) + "\n")
        self._stream.flush()

    def change_started(self, address: Address, action: str) -> None:
        self._actions[str(address)] = action

    def call(self, record: Any) -> None:
        """The client's `on_call` observer (a CallRecord): attributed to the change in flight."""
        address = f"{record.kind}.{record.name}" if record.kind and record.name else None
        self._write({
            "event": "call", "address": address, "kind": record.kind or None,
            "action": self._actions.get(address or ""),
            "method": record.method, "path": record.path.split("?", 1)[0], "status": record.status,
            "duration_s": round(record.duration_s, 4), "retries": record.retries,
        })

    def change_finished(self, result: ChangeResult) -> None:
        self._write({
            "event": "change", "address": str(result.address), "action": result.action,
            "outcome": result.outcome.value, "id": result.id, "old_id": result.old_id, "note": result.note or None,
            "error": result.error, "cause": str(result.cause) if result.cause else None,
            "duration_s": round(result.duration_s, 4),
        })

    def summary(self, text: str) -> None:
        self._write({"event": "summary", "text": text})
