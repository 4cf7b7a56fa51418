"""API keys in the emulator's SQLite store: one object row per key, its secret only as a hash.

Rows reuse the Metorial emulator's `Store` (one locked connection, `transaction()`, WAL):
kind `<api>_key`, `name` the key's name, status `active` or `archived` (deleted), and the
document {identity, for, last_four, hash, revoked_at}. The secret itself is never stored.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..store import Record, Store
from .choices import SECRET_ALPHABET

IDENTITY_ATTEMPTS = 20  # identities are random: a clash is drawn again, never looped on forever


def hash_secret(secret: str) -> str:
    """The stored form of a secret (choices.SECRET_HASH)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def random_text(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_secret(prefix: str, length: int) -> str:
    return prefix + random_text(SECRET_ALPHABET, length)


@dataclass(frozen=True)
class KeyRow:
    """One stored key, without its secret."""

    id: str
    name: str
    identity: str  # Metlo identifier / Metal client id
    created: str
    key_for: str | None = None
    last_four: str | None = None
    revoked_at: float | None = None  # wall-clock seconds of the delete

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _row(record: Record) -> KeyRow:
    doc = record.doc
    return KeyRow(record.id, record.name or "", doc["identity"], record.created_at, doc.get("for"),
                  doc.get("last_four"), doc.get("revoked_at"))


class KeyStore:
    """The keys of one service (`api`) in `store`. Callers hold `store.transaction()` for writes."""

    def __init__(self, store: Store, api: str) -> None:
        self.store = store
        self.kind = f"{api}_key"

    def add(self, row: KeyRow, secret: str) -> None:
        doc: dict[str, Any] = {"identity": row.identity, "for": row.key_for, "last_four": row.last_four,
                               "hash": hash_secret(secret), "revoked_at": None}
        self.store.save(Record(row.id, self.kind, "active", row.name, None, row.created, row.created, {}, doc))

    def active(self, where: str = "1", params: list[Any] | None = None, order: str = "ASC") -> list[KeyRow]:
        records = self.store.select(f"kind = ? AND status = 'active' AND ({where})", [self.kind, *(params or [])],
                                    order)
        return [_row(r) for r in records]

    def all(self) -> list[KeyRow]:
        return [_row(r) for r in self.store.select("kind = ?", [self.kind])]

    def count_active(self) -> int:
        return self.store.count("kind = ? AND status = 'active'", [self.kind])

    def identity_taken(self, identity: str) -> bool:
        return self.store.exists("kind = ? AND json_extract(doc, '$.identity') = ?", [self.kind, identity])

    def new_identity(self, make: Callable[[], str]) -> str | None:
        """A fresh identity from `make` (random), or None if IDENTITY_ATTEMPTS draws all clash."""
        for _ in range(IDENTITY_ATTEMPTS):
            identity = make()
            if not self.identity_taken(identity):
                return identity
        return None

    def by_secret(self, secret: str) -> list[KeyRow]:
        """Every row (deleted ones too) whose hash matches `secret`."""
        records = self.store.select("kind = ? AND json_extract(doc, '$.hash') = ?", [self.kind, hash_secret(secret)])
        return [_row(r) for r in records]

    def revoke(self, row: KeyRow, now: float) -> None:
        record = self.store.get(row.id)
        if record is None:
            return
        record.status = "archived"
        record.doc = {**record.doc, "revoked_at": now}
        self.store.save(record)

    def purge(self, before: float) -> None:
        """Forget deleted keys whose revocation window ended before `before`."""
        with self.store.lock:
            self.store.conn.execute(
                "DELETE FROM objects WHERE kind = ? AND status = 'archived' AND json_extract(doc, '$.revoked_at') < ?",
                (self.kind, before),
            )

    def clear(self) -> None:
        self.store.delete_kinds([self.kind])
