"""What a run wrote, and the stack index generation that follows from it. `next_index` is pure.

The executor notes every stamp it wrote (by object id), every object it deleted or forgot, and
the key generations it made and deleted. The next generation is what the live read owned (from
the index, a stamp, or an open run's window), with those notes applied: so a failed or skipped
change keeps its entry as it was, and nothing the run did not see or do enters the index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from metorial_apply.core.index import Index, IndexedKey, IndexEntry
from metorial_apply.core.keys import LiveKey, parse_key_name
from metorial_apply.core.model import Stamp
from metorial_apply.core.runs import OpenRun
from metorial_apply.core.state import State


@dataclass
class Ledger:
    """Filled while the run's steps finish; read once at the end."""

    stamps: dict[str, Stamp] = field(default_factory=dict)  # object id → the stamp last written to it
    removed: set[str] = field(default_factory=set)  # ids deleted or forgotten (stamp removed)
    keys_made: dict[str, LiveKey] = field(default_factory=dict)  # full key name → the generation made
    keys_deleted: set[str] = field(default_factory=set)  # full key names

    def wrote(self, id: str, stamp: Stamp) -> None:
        self.stamps[id] = stamp
        self.removed.discard(id)

    def remove(self, id: str) -> None:
        self.removed.add(id)
        self.stamps.pop(id, None)


def owned_entries(stack: str, live: State) -> dict[str, Stamp]:
    """What the live read gave the stack, by id: with the index's facts where it lists the object.
    Objects about to be imported or taken over are not the stack's until their stamp is written."""
    return {r.id: r.stamp for r in live if r.id and r.stamp is not None and r.stamp.stack == stack
            and (r.adoption is None or r.adoption.action in ("restore", "move"))}


def indexed(key: LiveKey) -> IndexedKey:
    """What the index keeps of a listed key: enough to plan it again without listing the backend."""
    return IndexedKey(name=key.name, backend=key.backend, identity=key.identity, created=key.created,
                      key_for=key.key_for)


def owned_keys(stack: str, live: State) -> dict[str, IndexedKey]:
    return {k.name: indexed(k) for k in live.keys or () if parse_key_name(k.name, stack) is not None}


def next_index(previous: Index | None, stack: str, live: State, ledger: Ledger, *, written: str,
               still_open: tuple[OpenRun, ...] = (), kept: frozenset[str] = frozenset()) -> Index:
    """The generation after `previous`: the live read's ownership with the run's writes applied.
    Every open entry is closed (its objects were claimed by the read) except `still_open`; the
    entries of `kept` (listed objects the read left alone) stay as they were."""
    entries = {e.id: e.stamp for e in previous.entries if e.id in kept} if previous else {}
    entries |= owned_entries(stack, live)
    for id in ledger.removed:
        entries.pop(id, None)
    entries |= ledger.stamps
    keys = owned_keys(stack, live)
    for name in ledger.keys_deleted:
        keys.pop(name, None)
    keys |= {n: indexed(k) for n, k in ledger.keys_made.items()}
    return Index(stack=stack, generation=(previous.generation + 1) if previous else 1,
                 entries=tuple(IndexEntry(id=i, stamp=entries[i].model_copy(update={"run": None}))
                               for i in sorted(entries)),
                 keys=tuple(keys[n] for n in sorted(keys)), open=tuple(sorted(still_open, key=lambda r: r.run)),
                 written=written)
