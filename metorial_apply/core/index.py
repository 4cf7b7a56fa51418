"""The stack index's records: what a stack owns, kept in the API itself, and how they are read. Pure.

Ownership from stamps alone is only as strong as metadata, which any key of the organization can
rewrite. The index is the stack's own list of what it owns, kept as session templates like the
lock's records (the one kind that needs no provider), so the list the live read already makes
carries it: reading it costs no call.

- head: `metorial-apply/index: <stack>`, `…/index-generation: <n>`, `…/index-shards: <id>,…` (in
  order), `…/index-written: <server time>`, `…/index-open` (the runs that have begun writing and
  not yet merged, JSON: see core/runs.py) and `…/index-digest: sha256:<hex>` over all of those and
  every shard's digest; with a signing key also `…/index-signature: ed25519:<key id>:<base64>`.
- shard: `…/index-shard: <stack>`, `…/index-digest` of its own entries, and one key per entry:
  `…/i:<object id>` (a resource: the facts a plan reads from a stamp, as compact JSON) or
  `…/k:<key name>` (an api key of ours: backend, identity, and when known its creation time and
  Metlo type, so a plan can be made from the index without the backend's credentials). At most
  SHARD_BYTES of JSON each.
  A shard holds one range of entry keys and is not tied to a generation, so a write creates only
  the shards whose entries changed (core/layout.py) and the head names the rest as they were.

Every record is untrusted input: a head or shard that does not parse, a digest or signature
that does not match, or a shard of another stack is refused as a whole, never half read. A head
naming shards the list does not hold raises ShardsMissingError (the caller lists once more: a
writer may be between creating shards and moving the head). Signing lives in core/signing.py.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from metorial_apply.core.errors import MetorialApplyError
from metorial_apply.core.lock import parse_time
from metorial_apply.core.model import STAMP_PREFIX, Frozen, Stamp
from metorial_apply.core.runs import OpenRun, parse_open
from metorial_apply.core.signing import key_id, verified

INDEX_KEY = STAMP_PREFIX + "index"
GENERATION_KEY = STAMP_PREFIX + "index-generation"
SHARDS_KEY = STAMP_PREFIX + "index-shards"
WRITTEN_KEY = STAMP_PREFIX + "index-written"
OPEN_KEY = STAMP_PREFIX + "index-open"
DIGEST_KEY = STAMP_PREFIX + "index-digest"
SIGNATURE_KEY = STAMP_PREFIX + "index-signature"
SHARD_KEY = STAMP_PREFIX + "index-shard"
ENTRY_PREFIX, KEY_PREFIX = STAMP_PREFIX + "i:", STAMP_PREFIX + "k:"
MARKS = (SHARD_KEY, DIGEST_KEY)
KEY_FACTS = ({"backend", "identity"}, {"backend", "identity", "created", "key_for"})  # required, allowed
SHARD_BYTES = 64 * 1024
REPLAY_S = 120.0  # how long after its write time a signed head may have been last updated (server clocks differ)
MAX_SHARDS = 4096  # 256 MiB of index: far above any stack, a bound on what a forged head may name
_GENERATION = re.compile(r"0|[1-9][0-9]{0,17}")
ID = re.compile(r"[A-Za-z0-9_]{1,100}")


class StackIndexError(MetorialApplyError):
    """The stack index cannot be trusted as read."""


class ShardsMissingError(StackIndexError):
    """The head names shards the list does not hold."""


class IndexEntry(Frozen):
    """One object the index lists, with what a plan reads from a stamp (the stamp's stack is the index's)."""

    id: str
    stamp: Stamp


class IndexedKey(Frozen):
    """An api key of ours the index lists: `name` is the key's full name (`<stack>~<name>~<generation>`).
    `created` and `key_for` are None in entries written before they were recorded."""

    name: str
    backend: str
    identity: str
    created: str | None = None  # as the backend listed it: what `rotate_after` is measured from
    key_for: str | None = None  # Metlo only

    def facts(self) -> dict[str, str]:
        """The entry's value: only the facts known, so entries without the optional ones read as before."""
        optional = {"created": self.created, "key_for": self.key_for}
        return {"backend": self.backend, "identity": self.identity} | {k: v for k, v in optional.items() if v}


class ShardRef(Frozen):
    """A shard record as the head names it: what a next generation keeps when its entries are unchanged."""

    id: str
    digest: str
    first: str  # the first entry key it holds ("" for an empty shard)


class Index(Frozen):
    stack: str
    generation: int
    entries: tuple[IndexEntry, ...] = ()  # sorted by id
    keys: tuple[IndexedKey, ...] = ()  # sorted by name
    open: tuple[OpenRun, ...] = ()  # sorted by run
    written: str = ""  # server time of the write that made this generation
    # As read (empty for an index not yet written): the head record, when it was first written,
    # its shards, and whether a signature was checked.
    head: str | None = None
    created_at: str | None = None
    shards: tuple[ShardRef, ...] = ()
    signed: bool = False

    def by_id(self) -> dict[str, IndexEntry]:
        return {e.id: e for e in self.entries}


def is_index_record(obj: Mapping[str, Any]) -> bool:
    """A head or shard of some stack's index (never a resource: it carries no ownership address)."""
    metadata = obj.get("metadata")
    return (isinstance(metadata, dict) and STAMP_PREFIX + "address" not in metadata
            and (INDEX_KEY in metadata or SHARD_KEY in metadata))


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest_of(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical(value)).hexdigest()


# -- writing --------------------------------------------------------------------------------


def entry_facts(stamp: Stamp) -> str:
    """An entry's value: the stamp's facts without the stack (the index's) or the run (not a fact)."""
    return canonical({k[len(STAMP_PREFIX):]: v for k, v in stamp.to_metadata().items()
                      if k not in (STAMP_PREFIX + "stack", STAMP_PREFIX + "run")}).decode()


def index_items(index: Index) -> list[tuple[str, str]]:
    """(metadata key, value) of every entry, sorted by key: the order shards hold them in."""
    items = [(ENTRY_PREFIX + e.id, entry_facts(e.stamp)) for e in index.entries]
    items += [(KEY_PREFIX + k.name, canonical(k.facts()).decode()) for k in index.keys]
    return sorted(items)


def shard_record(stack: str, entries: dict[str, str]) -> dict[str, str]:
    return entries | {SHARD_KEY: stack, DIGEST_KEY: digest_of(entries)}


def head_digest(index: Index, shard_digests: Iterable[str]) -> str:
    """What the head's digest (and signature) covers: stack, generation, write time, open runs and
    every shard's digest in order, so no part of an index can be swapped for an older one's."""
    runs = [r.model_dump(mode="json") for r in index.open]
    return digest_of([index.stack, index.generation, index.written, runs, list(shard_digests)])


def head_metadata(index: Index, shards: Iterable[ShardRef], signature: str | None = None) -> dict[str, str]:
    """The head for `index` once its shards exist; `signature` from core/signing.sign of head_digest."""
    shards = list(shards)
    head = {INDEX_KEY: index.stack, GENERATION_KEY: str(index.generation), SHARDS_KEY: ",".join(s.id for s in shards),
            WRITTEN_KEY: index.written, DIGEST_KEY: head_digest(index, [s.digest for s in shards])}
    if index.open:
        head[OPEN_KEY] = canonical({r.run: r.fields() for r in index.open}).decode()
    return head | ({SIGNATURE_KEY: signature} if signature else {})


# -- reading --------------------------------------------------------------------------------


def _metadata(record: Mapping[str, Any]) -> dict[str, Any]:
    metadata = record.get("metadata")
    return metadata if isinstance(metadata, dict) and record.get("status", "active") == "active" else {}


def heads_of(stack: str, records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in records if _metadata(r).get(INDEX_KEY) == stack and STAMP_PREFIX + "address" not in _metadata(r)]


def strays(stack: str, records: Iterable[Mapping[str, Any]], index: Index | None) -> tuple[str, ...]:
    """Active shard records of `stack` that its head does not name (a writer died between them and
    the head, or the head was lost): what the next write archives."""
    named = {s.id for s in index.shards} if index is not None else set()
    return tuple(sorted(str(r["id"]) for r in records if _metadata(r).get(SHARD_KEY) == stack
                        and isinstance(r.get("id"), str) and r["id"] not in named))


def read_index(stack: str, records: Iterable[Mapping[str, Any]], public_key: bytes | None = None) -> Index | None:
    """The stack's index from listed session templates; None when it has none. With `public_key`
    the head must carry a valid signature."""
    listed = list(records)
    heads = heads_of(stack, listed)
    if not heads:
        return None
    if len(heads) > 1:
        ids = ", ".join(sorted(str(h.get("id")) for h in heads))
        raise StackIndexError(f"stack {stack!r} has {len(heads)} index heads ({ids}); one was written by hand")
    head = _metadata(heads[0])
    generation, shard_ids = _head_fields(stack, head)
    by_id = {r.get("id"): r for r in listed if _metadata(r)}
    missing = [i for i in shard_ids if i not in by_id]
    if missing:
        raise ShardsMissingError(f"stack {stack!r}: the index head names shards that are not there: "
                                 + ", ".join(missing[:5]))
    shards = [_shard(stack, n, _metadata(by_id[i])) for n, i in enumerate(shard_ids)]
    index = _parsed(stack, generation, shards).model_copy(update={
        "written": head.get(WRITTEN_KEY) if isinstance(head.get(WRITTEN_KEY), str) else "",
        "open": parse_open(head.get(OPEN_KEY), f"stack {stack!r}: the index head's open runs", StackIndexError),
        "head": heads[0].get("id"), "created_at": heads[0].get("created_at"),
        "shards": tuple(ShardRef(id=i, digest=s[DIGEST_KEY], first=min(_entries(s), default=""))
                        for i, s in zip(shard_ids, shards, strict=True))})
    digest = head_digest(index, [s.digest for s in index.shards])
    if head.get(DIGEST_KEY) != digest:
        raise StackIndexError(f"stack {stack!r}: the index head's digest does not match its shards")
    if public_key is not None:
        if not verified(digest, head.get(SIGNATURE_KEY), public_key):
            raise StackIndexError(f"stack {stack!r}: the index is not signed by the index key "
                                  f"(key id {key_id(public_key)})")
        _check_fresh(stack, index, heads[0].get("updated_at"))
    return index.model_copy(update={"signed": public_key is not None})


def _check_fresh(stack: str, index: Index, updated_at: Any) -> None:
    """A signed head is written right after a lock renewal whose server time it carries, so the
    record's own updated_at follows within moments. Much later means its metadata was put back
    by hand: an older generation replayed (its signature still valid) is refused."""
    written, updated = parse_time(index.written), parse_time(updated_at)
    if written is None or updated is None or (updated - written).total_seconds() > REPLAY_S:
        raise StackIndexError(f"stack {stack!r}: the index head was rewritten after its generation was written "
                              "(an older index put back?); restore it or rebuild it")


def _head_fields(stack: str, head: Mapping[str, Any]) -> tuple[int, list[str]]:
    generation, shards = head.get(GENERATION_KEY), head.get(SHARDS_KEY)
    if not isinstance(generation, str) or not _GENERATION.fullmatch(generation) or not isinstance(shards, str):
        raise StackIndexError(f"stack {stack!r}: the index head is malformed")
    ids = shards.split(",") if shards else []
    if len(ids) > MAX_SHARDS or not all(ID.fullmatch(i) for i in ids) or len(set(ids)) != len(ids):
        raise StackIndexError(f"stack {stack!r}: the index head names malformed shards")
    return int(generation), ids


def _entries(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if k not in MARKS}


def _shard(stack: str, n: int, metadata: dict[str, Any]) -> dict[str, Any]:
    if metadata.get(SHARD_KEY) != stack or metadata.get(DIGEST_KEY) != digest_of(_entries(metadata)):
        raise StackIndexError(f"stack {stack!r}: index shard {n} does not match its head")
    return metadata


def _parsed(stack: str, generation: int, shards: list[dict[str, Any]]) -> Index:
    entries, keys, seen = [], [], set()
    for key, value in ((k, v) for s in shards for k, v in _entries(s).items()):
        if key in seen:
            raise StackIndexError(f"stack {stack!r}: index entry {key[:80]!r} is listed twice")
        seen.add(key)
        facts = _facts(value)
        if key.startswith(ENTRY_PREFIX) and ID.fullmatch(key[len(ENTRY_PREFIX):]):
            stamp = Stamp.from_keys(facts | {"stack": stack}) if "run" not in facts else None
            if stamp is None:
                raise StackIndexError(f"stack {stack!r}: index entry {key[:80]!r} is malformed")
            entries.append(IndexEntry(id=key[len(ENTRY_PREFIX):], stamp=stamp))
        elif key.startswith(KEY_PREFIX) and KEY_FACTS[0] <= set(facts) <= KEY_FACTS[1]:
            keys.append(IndexedKey.model_validate(facts | {"name": key[len(KEY_PREFIX):]}))
        else:
            raise StackIndexError(f"stack {stack!r}: index shard key {key[:80]!r} is not an index entry")
    return Index(stack=stack, generation=generation, entries=tuple(sorted(entries, key=lambda e: e.id)),
                 keys=tuple(sorted(keys, key=lambda k: k.name)))


def _facts(value: Any) -> dict[str, str]:
    try:
        facts = json.loads(value) if isinstance(value, str) and len(value) <= SHARD_BYTES else None
    except ValueError:
        facts = None
    if not isinstance(facts, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in facts.items()):
        raise StackIndexError("an index entry is not a JSON object of strings")
    return facts
