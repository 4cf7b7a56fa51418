"""The stack index's records (core/index.py): what is written reads back the same, shards stay
within their size, and every forged or damaged record is refused as a whole."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metorial_apply.core.index import (
    DIGEST_KEY,
    ENTRY_PREFIX,
    GENERATION_KEY,
    SHARD_BYTES,
    SHARDS_KEY,
    Index,
    IndexedKey,
    IndexEntry,
    ShardsMissingError,
    StackIndexError,
    canonical,
    decode_key,
    head_metadata,
    read_index,
    shard_metadata,
    sign,
)
from metorial_apply.core.model import Stamp

PRIVATE = bytes(range(32))
OTHER = bytes(range(1, 33))


def public_of(private: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()


def entry(n: int, **facts: Any) -> IndexEntry:
    stamp = Stamp(stack="prod", address=f"config.c{n}", spec_hash=f"sha256:{n:032x}", **facts)
    return IndexEntry(id=f"pcf_{n:012d}", stamp=stamp)


def index(count: int = 3, generation: int = 7) -> Index:
    rich = entry(0, secret_fingerprint="scrypt:ab", secret_salt="00" * 16, protect=True, sensitive=("description",),
                 secret_keys='hmac-sha256:k:{"a":"00"}', ignore=("metadata",), keys="sync=ci_1")
    return Index(stack="prod", generation=generation, entries=(rich, *(entry(n) for n in range(1, count))),
                 keys=(IndexedKey(name="prod~sync~1", backend="metal", identity="ci_1"),))


def records(idx: Index, *, private: bytes | None = None) -> list[dict[str, Any]]:
    """The index as the list of session templates the live read would see."""
    shards = shard_metadata(idx)
    ids = [f"set_s{idx.generation}x{n}" for n in range(len(shards))]
    digest = head_metadata(idx, ids, shards)[DIGEST_KEY]
    head = head_metadata(idx, ids, shards, sign(digest, private) if private else None)
    return ([{"id": "set_head", "status": "active", "metadata": head}]
            + [{"id": i, "status": "active", "metadata": m} for i, m in zip(ids, shards, strict=True)])


def test_what_is_written_reads_back_the_same() -> None:
    idx = index()
    assert read_index("prod", records(idx)) == idx
    assert read_index("staging", records(idx)) is None and read_index("prod", []) is None


@settings(max_examples=5, deadline=None)
@given(st.integers(1, 4000))
def test_shards_stay_within_their_size_and_keep_every_entry(count: int) -> None:
    idx = index(count)
    shards = shard_metadata(idx)
    assert all(len(canonical(s)) <= SHARD_BYTES for s in shards)
    assert sum(1 for s in shards for k in s if k.startswith(ENTRY_PREFIX)) == count
    assert read_index("prod", records(idx)) == idx


def test_a_signed_index_verifies_and_a_forged_one_is_refused() -> None:
    idx, key = index(), public_of(PRIVATE)
    assert read_index("prod", records(idx, private=PRIVATE), key) == idx
    with pytest.raises(StackIndexError, match="not signed by the index key"):
        read_index("prod", records(idx), key)  # unsigned
    with pytest.raises(StackIndexError, match="not signed by the index key"):
        read_index("prod", records(idx, private=OTHER), key)  # signed by another key


def tampered(change: Any, *, private: bytes | None = PRIVATE) -> list[dict[str, Any]]:
    listed = records(index(), private=private)
    change(listed)
    return listed


def add_entry(listed: list[dict[str, Any]]) -> None:
    listed[1]["metadata"][ENTRY_PREFIX + "pde_forged"] = json.dumps({"address": "deployment.x", "spec-hash": "h"})


def swap_ids(listed: list[dict[str, Any]]) -> None:
    shard = listed[1]["metadata"]
    a, b = sorted(k for k in shard if k.startswith(ENTRY_PREFIX))[:2]
    shard[a], shard[b] = shard[b], shard[a]


def older_generation(listed: list[dict[str, Any]]) -> None:
    listed[0]["metadata"][GENERATION_KEY] = "6"


@pytest.mark.parametrize("change", [add_entry, swap_ids, older_generation])
def test_tampering_is_refused_signed_or_not(change: Any) -> None:
    key = public_of(PRIVATE)
    with pytest.raises(StackIndexError):
        read_index("prod", tampered(change), key)
    with pytest.raises(StackIndexError):  # without a key the digests still catch an edit that did not redo them
        read_index("prod", tampered(change, private=None))


def test_a_head_naming_missing_shards_asks_for_a_fresh_list() -> None:
    listed = records(index())
    with pytest.raises(ShardsMissingError, match="set_s7x0"):
        read_index("prod", listed[:1])
    listed[1]["status"] = "archived"
    with pytest.raises(ShardsMissingError):
        read_index("prod", listed)


@pytest.mark.parametrize("damage", [
    lambda h, s: h.update({GENERATION_KEY: "01"}),
    lambda h, s: h.update({SHARDS_KEY: "a;b"}),
    lambda h, s: h.update({SHARDS_KEY: ",".join(["set_x"] * 2)}),
    lambda h, s: h.update({SHARDS_KEY: ",".join(f"s{n}" for n in range(5000))}),
    lambda h, s: s.update({ENTRY_PREFIX + "pcf_1": "{not json"}),
    lambda h, s: s.update({ENTRY_PREFIX + "pcf_1": json.dumps({"address": 7})}),
    lambda h, s: s.update({"metorial-apply/other": "x"}),
    lambda h, s: s.update({ENTRY_PREFIX + "pcf_1": json.dumps({"spec-hash": "h"})}),
])
def test_a_malformed_record_is_refused_whole_with_a_clear_error(damage: Any) -> None:
    listed = records(index())
    damage(listed[0]["metadata"], listed[1]["metadata"])
    with pytest.raises(StackIndexError):
        read_index("prod", listed)


def test_two_heads_for_one_stack_are_refused() -> None:
    listed = records(index())
    listed.append({"id": "set_forged", "status": "active", "metadata": dict(listed[0]["metadata"])})
    with pytest.raises(StackIndexError, match="2 index heads"):
        read_index("prod", listed)


def test_keys_decode_from_base64_and_anything_else_is_refused() -> None:
    assert decode_key(base64.b64encode(PRIVATE).decode(), "METORIAL_APPLY_INDEX_KEY") == PRIVATE
    for bad in ("", "not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(StackIndexError, match="not a base64 Ed25519 key"):
            decode_key(bad, "METORIAL_APPLY_INDEX_KEY")
