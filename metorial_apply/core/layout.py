"""Which shards a new index generation writes and which it keeps. Pure.

Entries are kept in key order and each shard holds one range of keys, starting at its first key.
A new generation puts every entry in the range of the old shard it falls into; an old shard whose
entries come out the same (same digest) is kept as it is, by id, and costs no call; the others
are written anew, split where they outgrow SHARD_BYTES. So an apply that changes a few resources
writes about one shard per 64 KiB range it touched, plus the head.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass

from metorial_apply.core.index import DIGEST_KEY, SHARD_BYTES, ShardRef, digest_of, shard_record

# Room the shard's marks (stack name, digest) and JSON punctuation take beside its entries.
_MARKS_BYTES = 512
FILL = 0.75


@dataclass(frozen=True)
class Planned:
    """One shard of the new generation, in order: kept (`id`) or to create (`metadata`)."""

    digest: str
    first: str
    id: str | None = None
    metadata: dict[str, str] | None = None

    def ref(self, id: str | None = None) -> ShardRef:
        chosen = id or self.id
        assert chosen is not None
        return ShardRef(id=chosen, digest=self.digest, first=self.first)


def _size(key: str, value: str) -> int:
    return len(json.dumps(key, ensure_ascii=False).encode()) + len(json.dumps(value, ensure_ascii=False).encode()) + 2


def _split(items: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Items in one piece when they fit SHARD_BYTES of JSON (marks included); else packed in order
    to FILL of it each, leaving room to grow, so the next small change rewrites one shard, not two."""
    sizes = [_size(k, v) for k, v in items]
    if sum(sizes) + _MARKS_BYTES <= SHARD_BYTES:
        return [items]
    pieces: list[list[tuple[str, str]]] = [[]]
    used = 0
    for (key, value), size in zip(items, sizes, strict=True):
        if pieces[-1] and used + size + _MARKS_BYTES > SHARD_BYTES * FILL:
            pieces.append([])
            used = 0
        pieces[-1].append((key, value))
        used += size
    return pieces


def layout(stack: str, items: list[tuple[str, str]], previous: tuple[ShardRef, ...]) -> list[Planned]:
    """The new generation's shards for `items` (sorted by key), reusing `previous` where unchanged."""
    firsts = [s.first for s in previous]
    groups: list[list[tuple[str, str]]] = [[] for _ in previous] or [[]]
    for key, value in items:
        groups[max(0, bisect.bisect_right(firsts, key) - 1)].append((key, value))
    out: list[Planned] = []
    for n, group in enumerate(groups):
        entries = dict(group)
        old = previous[n] if n < len(previous) else None
        if old is not None and group and digest_of(entries) == old.digest:
            out.append(Planned(digest=old.digest, first=old.first, id=old.id))
            continue
        for piece in _split(group) if group else []:
            record = shard_record(stack, dict(piece))
            out.append(Planned(digest=record[DIGEST_KEY], first=piece[0][0], metadata=record))
    return out

