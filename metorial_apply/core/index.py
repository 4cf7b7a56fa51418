"""The stack index's records: what a stack owns, kept in the API itself, and how they are read. Pure.

Ownership from stamps alone is only as strong as metadata, which any key of the organization can
rewrite. The index is the stack's own list of what it owns (issue 20), kept as session templates
like the lock's records (the one kind that needs no provider), so the list the live read already
makes carries it: reading it costs no call.

- head: `metorial-apply/index: <stack>`, `…/index-generation: <n>`, `…/index-shards: <id>,…` (in
  order) and `…/index-digest: sha256:<hex>` over the stack, the generation and every shard's
  digest; with a signing key also `…/index-signature: ed25519:<key id>:<base64>` of that digest.
- shard: `…/index-shard: <stack>:<generation>:<n>`, `…/index-digest` of its own entries, and one
  key per entry: `…/i:<object id>` (a resource: the facts a plan reads from a stamp, as compact
  JSON) or `…/k:<key name>` (an api key of ours: backend and identity). At most SHARD_BYTES of
  JSON each.

Every record is untrusted input: a head or shard that does not parse, a digest or signature
that does not match, or a generation other than the head's is refused as a whole, never half
read. A head naming shards the list does not hold raises ShardsMissingError (the caller lists once
more: a writer may be between creating shards and moving the head).

The live read reads them (api/live.py: what the index lists is ours by id, with its facts, and a
stamp copied onto an object it does not list is a look-alike). Apply does not write them yet:
writing, the open run entries and `index rebuild` are the next step of issue 20, so today every
stack is read from its stamps alone, as before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from metorial_apply.core.errors import MetorialApplyError
from metorial_apply.core.model import STAMP_PREFIX, Frozen, Stamp

INDEX_KEY = STAMP_PREFIX + "index"
GENERATION_KEY = STAMP_PREFIX + "index-generation"
SHARDS_KEY = STAMP_PREFIX + "index-shards"
DIGEST_KEY = STAMP_PREFIX + "index-digest"
SIGNATURE_KEY = STAMP_PREFIX + "index-signature"
SHARD_KEY = STAMP_PREFIX + "index-shard"
ENTRY_PREFIX, KEY_PREFIX = STAMP_PREFIX + "i:", STAMP_PREFIX + "k:"
SHARD_BYTES = 64 * 1024
MAX_SHARDS = 4096  # 256 MiB of index: far above any stack, a bound on what a forged head may name
_GENERATION = re.compile(r"[1-9][0-9]{0,17}")
_ID = re.compile(r"[A-Za-z0-9_]{1,100}")


class StackIndexError(MetorialApplyError):
    """The stack index cannot be trusted as read."""


class ShardsMissingError(StackIndexError):
    """The head names shards the list does not hold."""


class IndexEntry(Frozen):
    """One object the index lists, with what a plan reads from a stamp (the stamp's stack is the index's)."""

    id: str
    stamp: Stamp


class IndexedKey(Frozen):
    """An api key of ours the index lists: `name` is the key's full name (`<stack>~<name>~<generation>`)."""

    name: str
    backend: str
    identity: str


class Index(Frozen):
    stack: str
    generation: int
    entries: tuple[IndexEntry, ...] = ()  # sorted by id
    keys: tuple[IndexedKey, ...] = ()  # sorted by name

    def by_id(self) -> dict[str, IndexEntry]:
        return {e.id: e for e in self.entries}


def is_index_record(obj: Mapping[str, Any]) -> bool:
    """A head or shard of some stack's index (never a resource: it carries no ownership address)."""
    metadata = obj.get("metadata")
    return (isinstance(metadata, dict) and STAMP_PREFIX + "address" not in metadata
            and (INDEX_KEY in metadata or SHARD_KEY in metadata))


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical(value)).hexdigest()


# -- writing --------------------------------------------------------------------------------


def _entry_items(index: Index) -> list[tuple[str, str]]:
    """(metadata key, value) of every entry, in a stable order."""
    out = []
    for entry in index.entries:
        facts = {k[len(STAMP_PREFIX):]: v for k, v in entry.stamp.to_metadata().items()
                 if k != STAMP_PREFIX + "stack"}
        out.append((ENTRY_PREFIX + entry.id, canonical(facts).decode()))
    out += [(KEY_PREFIX + k.name, canonical({"backend": k.backend, "identity": k.identity}).decode())
            for k in index.keys]
    return out


def shard_metadata(index: Index) -> list[dict[str, str]]:
    """The shards of `index`, each at most SHARD_BYTES of JSON, entries packed in order."""
    shards: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for key, value in _entry_items(index):
        if current and len(canonical(current | {key: value})) + 200 > SHARD_BYTES:  # 200: room for the marks
            shards.append(current)
            current = {}
        current[key] = value
    shards.append(current)
    return [_marked(index, n, entries) for n, entries in enumerate(shards)]


def _marked(index: Index, n: int, entries: dict[str, str]) -> dict[str, str]:
    return entries | {SHARD_KEY: f"{index.stack}:{index.generation}:{n}", DIGEST_KEY: _digest(entries)}


def head_digest(stack: str, generation: int, shard_digests: Iterable[str]) -> str:
    """What the head's digest (and signature) covers: the stack, the generation, every shard in order."""
    return _digest([stack, generation, list(shard_digests)])


def head_metadata(index: Index, shard_ids: list[str], shards: list[dict[str, str]],
                  signature: str | None = None) -> dict[str, str]:
    """The head for `index` once its shards exist as `shard_ids`; `signature` from `sign`."""
    digest = head_digest(index.stack, index.generation, [s[DIGEST_KEY] for s in shards])
    head = {INDEX_KEY: index.stack, GENERATION_KEY: str(index.generation), SHARDS_KEY: ",".join(shard_ids),
            DIGEST_KEY: digest}
    return head | ({SIGNATURE_KEY: signature} if signature else {})


# -- signing (Ed25519: the apply job holds the private half, plan jobs verify with the public) --


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:8]


def decode_key(text: str, what: str) -> bytes:
    """A raw 32-byte Ed25519 key (private or public half) from base64."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise StackIndexError(f"{what} is not a base64 Ed25519 key (32 raw bytes)")
    return raw


def sign(digest: str, private_key: bytes) -> str:
    """`ed25519:<key id>:<base64 signature>` of a head digest."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(private_key)
    public = key.public_key().public_bytes_raw()
    return f"ed25519:{key_id(public)}:{base64.b64encode(key.sign(digest.encode())).decode()}"


def verified(digest: str, signature: object, public_key: bytes) -> bool:
    """True only for a signature of `digest` by the private half of `public_key`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    parts = signature.split(":") if isinstance(signature, str) else []
    if len(parts) != 3 or parts[0] != "ed25519" or parts[1] != key_id(public_key):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(base64.b64decode(parts[2], validate=True),
                                                              digest.encode())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


# -- reading --------------------------------------------------------------------------------


def _metadata(record: Mapping[str, Any]) -> dict[str, Any]:
    metadata = record.get("metadata")
    return metadata if isinstance(metadata, dict) and record.get("status", "active") == "active" else {}


def read_index(stack: str, records: Iterable[Mapping[str, Any]], public_key: bytes | None = None) -> Index | None:
    """The stack's index from listed session templates; None when it has none. With `public_key`
    the head must carry a valid signature."""
    listed = list(records)
    heads = [r for r in listed if _metadata(r).get(INDEX_KEY) == stack and STAMP_PREFIX + "address" not in _metadata(r)]
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
                                 + ", ".join(missing))
    shards = [_shard(stack, generation, n, _metadata(by_id[i])) for n, i in enumerate(shard_ids)]
    digest = head_digest(stack, generation, [s[DIGEST_KEY] for s in shards])
    if head.get(DIGEST_KEY) != digest:
        raise StackIndexError(f"stack {stack!r}: the index head's digest does not match its shards")
    if public_key is not None and not verified(digest, head.get(SIGNATURE_KEY), public_key):
        raise StackIndexError(f"stack {stack!r}: the index is not signed by the index key "
                              f"(key id {key_id(public_key)})")
    return _parsed(stack, generation, shards)


def _head_fields(stack: str, head: Mapping[str, Any]) -> tuple[int, list[str]]:
    generation, shards = head.get(GENERATION_KEY), head.get(SHARDS_KEY)
    if not isinstance(generation, str) or not _GENERATION.fullmatch(generation) or not isinstance(shards, str):
        raise StackIndexError(f"stack {stack!r}: the index head is malformed")
    ids = shards.split(",")
    if len(ids) > MAX_SHARDS or not all(_ID.fullmatch(i) for i in ids) or len(set(ids)) != len(ids):
        raise StackIndexError(f"stack {stack!r}: the index head names malformed shards")
    return int(generation), ids


def _shard(stack: str, generation: int, n: int, metadata: dict[str, Any]) -> dict[str, Any]:
    entries = {k: v for k, v in metadata.items() if k not in (SHARD_KEY, DIGEST_KEY)}
    if metadata.get(SHARD_KEY) != f"{stack}:{generation}:{n}" or metadata.get(DIGEST_KEY) != _digest(entries):
        raise StackIndexError(f"stack {stack!r}: index shard {n} of generation {generation} does not match its head")
    return metadata


def _parsed(stack: str, generation: int, shards: list[dict[str, Any]]) -> Index:
    entries, keys = [], []
    for key, value in ((k, v) for s in shards for k, v in s.items() if k not in (SHARD_KEY, DIGEST_KEY)):
        facts = _facts(value)
        if key.startswith(ENTRY_PREFIX) and _ID.fullmatch(key[len(ENTRY_PREFIX):]):
            stamp = Stamp.split({STAMP_PREFIX + k: v for k, v in facts.items()} | {STAMP_PREFIX + "stack": stack})[1]
            if stamp is None:
                raise StackIndexError(f"stack {stack!r}: index entry {key} is malformed")
            entries.append(IndexEntry(id=key[len(ENTRY_PREFIX):], stamp=stamp))
        elif key.startswith(KEY_PREFIX) and set(facts) == {"backend", "identity"}:
            keys.append(IndexedKey(name=key[len(KEY_PREFIX):], backend=facts["backend"], identity=facts["identity"]))
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
