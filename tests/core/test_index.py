"""The stack index's records (core/index.py, core/layout.py): what is written reads back the same,
shards stay within their size, a new generation rewrites only the shards whose entries changed,
and every forged or damaged record is refused as a whole."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metorial_apply.core.index import (
    ENTRY_PREFIX,
    GENERATION_KEY,
    KEY_PREFIX,
    OPEN_KEY,
    SHARD_BYTES,
    SHARDS_KEY,
    WRITTEN_KEY,
    Index,
    IndexedKey,
    IndexEntry,
    ShardsMissingError,
    StackIndexError,
    canonical,
    index_items,
    read_index,
)
from metorial_apply.core.layout import layout
from metorial_apply.core.model import Stamp
from metorial_apply.core.runs import OpenRun
from metorial_apply.core.signing import IndexKeyError, decode_key, public_of
from tests.index_records import index_records

PRIVATE = bytes(range(32))
OTHER = bytes(range(1, 33))


def entry(n: int, **facts: Any) -> IndexEntry:
    stamp = Stamp(stack="prod", address=f"config.c{n}", spec_hash=f"sha256:{n:032x}", **facts)
    return IndexEntry(id=f"pcf_{n:012d}", stamp=stamp)


def index(count: int = 3, generation: int = 7) -> Index:
    rich = entry(0, secret_fingerprint="scrypt:ab", secret_salt="00" * 16, protect=True, sensitive=("description",),
                 secret_keys='hmac-sha256:k:{"a":"00"}', ignore=("metadata",), keys="sync=ci_1")
    return Index(stack="prod", generation=generation, entries=(rich, *(entry(n) for n in range(1, count))),
                 keys=(IndexedKey(name="prod~sync~1", backend="metal", identity="ci_1"),),
                 written="2026-06-01T00:00:00Z",
                 open=(OpenRun(run="r1", lock="set_lock", t0="2026-06-01T00:00:00Z", ttl_s=120, imports=("pde_a",)),))


def records(idx: Index, *, private: bytes | None = None) -> list[dict[str, Any]]:
    return index_records(idx, private=private)


def content(idx: Index | None) -> Index | None:
    """What an index says, without what reading it adds (its records, whether it was verified)."""
    blank = {"head": None, "created_at": None, "shards": (), "signed": False}
    return idx.model_copy(update=blank) if idx is not None else None


def test_what_is_written_reads_back_the_same() -> None:
    idx = index()
    read = read_index("prod", records(idx))
    assert content(read) == idx and read is not None and read.head == "set_head" and len(read.shards) == 1
    assert read_index("staging", records(idx)) is None and read_index("prod", []) is None


def test_a_key_keeps_its_creation_time_and_type_and_an_entry_without_them_still_reads() -> None:
    """What a plan made from the index reads of a key (rotate_after, key_for) is recorded; entries
    written before that read as they did, and are written as they were."""
    full = IndexedKey(name="prod~ingest~2", backend="metlo", identity="metlo.a", created="2026-05-01T00:00:00Z",
                      key_for="GENERIC")
    older = IndexedKey(name="prod~sync~1", backend="metal", identity="ci_1")
    idx = Index(stack="prod", generation=2, keys=(full, older), written="2026-06-01T00:00:00Z")
    assert content(read_index("prod", records(idx))) == idx
    items = dict(index_items(idx))
    assert json.loads(items[KEY_PREFIX + "prod~sync~1"]) == {"backend": "metal", "identity": "ci_1"}
    assert json.loads(items[KEY_PREFIX + "prod~ingest~2"])["created"] == "2026-05-01T00:00:00Z"


def test_an_empty_index_is_a_head_naming_no_shard() -> None:
    idx = Index(stack="prod", generation=0)
    listed = records(idx)
    assert len(listed) == 1 and listed[0]["metadata"][SHARDS_KEY] == ""
    assert content(read_index("prod", listed)) == idx


@settings(max_examples=5, deadline=None)
@given(st.integers(1, 4000))
def test_shards_stay_within_their_size_and_keep_every_entry(count: int) -> None:
    idx = index(count)
    shards = [p.metadata for p in layout("prod", index_items(idx), ())]
    assert all(s is not None and len(canonical(s)) <= SHARD_BYTES for s in shards)
    assert sum(1 for s in shards for k in s if k.startswith(ENTRY_PREFIX)) == count
    assert content(read_index("prod", records(idx))) == idx


def test_a_new_generation_rewrites_only_the_shards_whose_entries_changed() -> None:
    idx = index(4000)
    first = layout("prod", index_items(idx), ())
    refs = tuple(p.ref(f"set_{n}") for n, p in enumerate(first))
    assert len(refs) > 5 and all(p.metadata is not None for p in first)
    changed = list(idx.entries)
    changed[2000] = entry(2000, protect=True)
    changed.append(entry(99_999))  # sorts last: into the last range
    again = layout("prod", index_items(idx.model_copy(update={"entries": tuple(sorted(changed, key=lambda e: e.id))})),
                   refs)
    assert sum(1 for p in again if p.metadata is not None) == 2
    kept = {p.id for p in again if p.id}
    assert len(kept) == len(refs) - 2 and kept <= {r.id for r in refs}


def test_a_signed_index_verifies_and_a_forged_one_is_refused() -> None:
    idx, key = index(), public_of(PRIVATE)
    assert content(read_index("prod", records(idx, private=PRIVATE), key)) == idx
    with pytest.raises(StackIndexError, match="not signed by the index key"):
        read_index("prod", records(idx), key)  # unsigned
    with pytest.raises(StackIndexError, match="not signed by the index key"):
        read_index("prod", records(idx, private=OTHER), key)  # signed by another key


def test_a_signed_head_put_back_long_after_its_write_is_refused_as_a_replay() -> None:
    """An older generation's metadata, signature and all, PATCHed back onto the head: the record's
    updated_at then lies long after the write time the signature covers."""
    key, listed = public_of(PRIVATE), records(index(), private=PRIVATE)
    listed[0]["updated_at"] = "2026-06-01T00:01:30Z"  # within REPLAY_S: a normal write
    assert read_index("prod", listed, key) is not None
    listed[0]["updated_at"] = "2026-06-03T00:00:00Z"
    with pytest.raises(StackIndexError, match="older index put back"):
        read_index("prod", listed, key)
    assert read_index("prod", listed) is not None  # unsigned: anyone could write it anyway


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


def older_write(listed: list[dict[str, Any]]) -> None:
    listed[0]["metadata"][WRITTEN_KEY] = "2020-01-01T00:00:00Z"


def open_run_dropped(listed: list[dict[str, Any]]) -> None:
    listed[0]["metadata"][OPEN_KEY] = "{}"


@pytest.mark.parametrize("change", [add_entry, swap_ids, older_generation, older_write, open_run_dropped])
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
    lambda h, s: h.update({OPEN_KEY: "[1]"}),
    lambda h, s: h.update({OPEN_KEY: '{"r": {"lock": "x", "t0": "t", "ttl": 0, "imports": []}}'}),
    lambda h, s: s.update({ENTRY_PREFIX + "pcf_1": json.dumps({"address": "config.a", "spec-hash": "h", "run": "r"})}),
    lambda h, s: h.update({SHARDS_KEY: "a;b"}),
    lambda h, s: h.update({SHARDS_KEY: ",".join(["set_x"] * 2)}),
    lambda h, s: h.update({SHARDS_KEY: ",".join(f"s{n}" for n in range(5000))}),
    lambda h, s: s.update({ENTRY_PREFIX + "pcf_1": "{not json"}),
    lambda h, s: s.update({ENTRY_PREFIX + "pcf_1": json.dumps({"address": 7})}),
    lambda h, s: s.update({"metorial-apply/other": "x"}),
    lambda h, s: s.update({ENTRY_PREFIX + "pcf_1": json.dumps({"spec-hash": "h"})}),
    lambda h, s: s.update({KEY_PREFIX + "prod~x~1": json.dumps({"backend": "m", "identity": "i", "secret": "s"})}),
    lambda h, s: s.update({KEY_PREFIX + "prod~x~1": json.dumps({"backend": "m", "created": "2026-01-01"})}),
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
        with pytest.raises(IndexKeyError, match="not a base64 Ed25519 key"):
            decode_key(bad, "METORIAL_APPLY_INDEX_KEY")
