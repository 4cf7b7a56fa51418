"""SQLite storage: one table of objects, JSON documents plus the columns lists filter on.

One connection guarded by a lock serves every request: handlers run their whole read-modify-
write under `transaction()` without awaiting, so concurrent requests on one event loop (or
uvicorn's loop plus a test thread) never interleave inside a write.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import choices

# Reference columns: every filter and cascade edge reads one of these, so each is indexed.
REF_COLUMNS = (
    "provider_id", "version_id", "specification_id", "deployment_id", "config_id", "vault_id",
    "auth_method_id", "auth_config_id", "credentials_id", "template_id", "origin",
)
BASE_COLUMNS = ("id", "kind", "status", "name", "description", "created_at", "updated_at")
ALL_COLUMNS = BASE_COLUMNS + REF_COLUMNS + ("doc", "secret")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS objects (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, name TEXT, description TEXT,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  {", ".join(f"{c} TEXT" for c in REF_COLUMNS)},
  doc TEXT NOT NULL, secret TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_kind_status ON objects(kind, status, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
""" + "".join(
    # Partial: each kind fills few of the eleven columns, yet a full index takes an entry for
    # every NULL too, so each insert touched every B-tree and its commit wrote twice the WAL
    # frames. `col = ?` and `col IN (...)` imply NOT NULL, so every filter still uses these.
    f"CREATE INDEX IF NOT EXISTS ix_{c} ON objects(kind, {c}, id) WHERE {c} IS NOT NULL;\n" for c in REF_COLUMNS
)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with millisecond precision and `Z`, the API's timestamp form."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso(offset_s: float = 0.0) -> str:
    """Now in the API's timestamp form, on a clock `offset_s` seconds ahead of this machine's
    (EmulatorSettings.clock_offset_s; a `Store` passes its own)."""
    return iso(datetime.now(UTC) + timedelta(seconds=offset_s))


def lag_share(salt: str, ident: str) -> float:
    """An object's share of the list-lag fault in [0, 1): a hash, so every list (and every server
    sharing the store with the same salt) hides the same object for the same time."""
    digest = hashlib.blake2b(f"{salt}:{ident}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32


# ASCII-ordered alphabet so that byte-wise (SQLite BINARY) comparison matches numeric order.
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rem = divmod(number, 62)
        digits.append(BASE62[rem])
    return "".join(reversed(digits)).rjust(width, "0")[-width:]


def decode_base62(text: str) -> int:
    value = 0
    for char in text:
        value = value * 62 + BASE62.index(char)
    return value


@dataclass
class Record:
    """One stored object: indexed columns, the JSON document and the write-only secret."""

    id: str
    kind: str
    status: str = "active"
    name: str | None = None
    description: str | None = None
    created_at: str = ""
    updated_at: str = ""
    refs: dict[str, str | None] = field(default_factory=dict)
    doc: dict[str, Any] = field(default_factory=dict)
    secret: Any = None

    def ref(self, column: str) -> str | None:
        return self.refs.get(column)

    def row(self) -> tuple[Any, ...]:
        refs = tuple(self.refs.get(c) for c in REF_COLUMNS)
        secret = None if self.secret is None else json.dumps(self.secret)
        base = (self.id, self.kind, self.status, self.name, self.description, self.created_at, self.updated_at)
        return base + refs + (json.dumps(self.doc, separators=(",", ":")), secret)


def _record(row: tuple[Any, ...]) -> Record:
    base = row[: len(BASE_COLUMNS)]
    refs = dict(zip(REF_COLUMNS, row[len(BASE_COLUMNS) : len(BASE_COLUMNS) + len(REF_COLUMNS)], strict=False))
    doc, secret = row[-2], row[-1]
    return Record(*base, refs=refs, doc=json.loads(doc), secret=None if secret is None else json.loads(secret))


class Store:
    """The emulator's database. Every public method takes the lock."""

    def __init__(self, path: str | None, seed: int | None = None, clock_offset_s: float = 0.0) -> None:
        self.lock = threading.RLock()
        self.clock_offset_s = clock_offset_s
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        if path:
            # WAL lets readers (e.g. a second process inspecting the file) coexist with writes.
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)
        self.conn.create_function("lag_share", 2, lag_share, deterministic=True)
        self._rng = random.Random(seed)
        with self.lock:
            self.conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('id_counter', ?)", (str(self._max_counter()),)
            )

    def _max_counter(self) -> int:
        """The highest counter in use, for databases written before the meta counter existed."""
        best = 0
        for (ident,) in self.conn.execute("SELECT id FROM objects").fetchall():
            best = max(best, decode_base62(ident.partition("_")[2][:choices.ID_COUNTER_WIDTH]))
        return best

    def now_iso(self) -> str:
        """Now on this emulator's clock: every created_at and updated_at it writes."""
        return now_iso(self.clock_offset_s)

    def new_id(self, prefix: str) -> str:
        """Called inside `transaction()`: the counter lives in the database, so two processes
        sharing a file never hand out the same id and ids keep sorting in creation order."""
        with self.lock:
            row = self.conn.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'id_counter' RETURNING value"
            ).fetchone()
            suffix = "".join(self._rng.choice(BASE62) for _ in range(choices.ID_SUFFIX_WIDTH))
            return f"{prefix}_{base62(int(row[0]), choices.ID_COUNTER_WIDTH)}{suffix}"

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def get(self, ident: str) -> Record | None:
        with self.lock:
            row = self.conn.execute(f"SELECT {', '.join(ALL_COLUMNS)} FROM objects WHERE id = ?", (ident,)).fetchone()
        return None if row is None else _record(row)

    def save(self, record: Record) -> None:
        marks = ", ".join("?" for _ in ALL_COLUMNS)
        with self.lock:
            self.conn.execute(
                f"INSERT OR REPLACE INTO objects ({', '.join(ALL_COLUMNS)}) VALUES ({marks})", record.row()
            )

    def save_many(self, records: list[Record]) -> None:
        marks = ", ".join("?" for _ in ALL_COLUMNS)
        with self.lock:
            self.conn.executemany(
                f"INSERT OR REPLACE INTO objects ({', '.join(ALL_COLUMNS)}) VALUES ({marks})",
                [r.row() for r in records],
            )

    def select(self, where: str, params: list[Any], order: str = "ASC", limit: int | None = None) -> list[Record]:
        sql = f"SELECT {', '.join(ALL_COLUMNS)} FROM objects WHERE {where} ORDER BY id {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self.lock:
            rows = self.conn.execute(sql, params).fetchall()
        return [_record(r) for r in rows]

    def exists(self, where: str, params: list[Any]) -> bool:
        with self.lock:
            return self.conn.execute(f"SELECT 1 FROM objects WHERE {where} LIMIT 1", params).fetchone() is not None

    def count(self, where: str, params: list[Any]) -> int:
        with self.lock:
            return int(self.conn.execute(f"SELECT COUNT(*) FROM objects WHERE {where}", params).fetchone()[0])

    def status_counts(self) -> dict[str, dict[str, int]]:
        with self.lock:
            rows = self.conn.execute("SELECT kind, status, COUNT(*) FROM objects GROUP BY kind, status").fetchall()
        counts: dict[str, dict[str, int]] = {}
        for kind, status, number in rows:
            counts.setdefault(kind, {"active": 0, "archived": 0})[status] = number
        return counts

    def delete_kinds(self, kinds: list[str]) -> None:
        marks = ", ".join("?" for _ in kinds)
        with self.lock:
            self.conn.execute(f"DELETE FROM objects WHERE kind IN ({marks})", kinds)

    def meta(self, key: str) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str | None) -> None:
        with self.lock:
            if value is None:
                self.conn.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        with self.lock:
            self.conn.close()
