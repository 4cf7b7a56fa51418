"""Writing the stack index (core/index.py) under the stack lock: the run's open entry before its
first write, and the next generation at its end.

A generation is written in this order, so a reader always finds one whole generation: create the
shards whose entries changed (core/layout.py; the rest are kept by id), renew the lock, PATCH the
head to the new generation, then archive the shards it no longer names (and any left behind by a
writer that died between its shards and its head). Every answer is checked against what was sent:
a head or shard the API did not keep as written fails the write, and the run's open entry then
stays, so the next run claims what this one made. Calls count as kind "index" in --stats.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from metorial_apply.api.client import MetorialClient
from metorial_apply.apply.ledger import Ledger, next_index
from metorial_apply.apply.lock import PATH, StackLock
from metorial_apply.core.errors import GoneError, MetorialApplyError, NotFoundError, OutcomeUnknownError
from metorial_apply.core.index import Index, ShardRef, head_digest, head_metadata, heads_of, index_items
from metorial_apply.core.layout import Planned, layout
from metorial_apply.core.runs import MAX_IMPORTS, OpenRun
from metorial_apply.core.signing import sign
from metorial_apply.core.state import State

CALL_KIND, NO_NAME = "index", ""


class IndexWriteError(MetorialApplyError):
    """The stack index could not be written as intended."""


def iso(moment: datetime | None) -> str:
    if moment is None:
        raise IndexWriteError("the lock has no server time to stamp the index with")
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class IndexWriter:
    """One run's writes of one stack's index (`index`: as read; None for a stack without one)."""

    client: MetorialClient
    lock: StackLock
    index: Index | None
    strays: tuple[str, ...] = ()  # shard records of this stack that no head names
    private_key: bytes | None = field(default=None, repr=False)
    ours: OpenRun | None = None

    @property
    def stack(self) -> str:
        return self.lock.stack

    async def open(self, imports: list[str]) -> None:
        """Before the run's first write: record it as open (creating the head of a new stack)."""
        if len(imports) > MAX_IMPORTS:
            raise IndexWriteError(f"one apply imports at most {MAX_IMPORTS} objects; split the imports "
                                  "(for example with --target)")
        await self.lock.renew()
        self.ours = OpenRun(run=self.lock.run, lock=self.lock.records[0], t0=iso(self.lock.stamped),
                            ttl_s=self.lock.settings.ttl_s, imports=tuple(sorted(imports)))
        base = self.index or Index(stack=self.stack, generation=0)
        runs = tuple(sorted((*(r for r in base.open if r.run != self.ours.run), self.ours), key=lambda r: r.run))
        opened = base.model_copy(update={"open": runs, "written": self.ours.t0})
        self.index = await self._put_head(opened, base.shards)

    async def merge(self, live: State, ledger: Ledger, *, keep_open: bool = False,
                    kept: frozenset[str] = frozenset()) -> Index:
        """Write the next generation: what the live read owned with the run's writes applied; every
        open entry closed, but this run's kept open when `keep_open` (some write's outcome unknown)."""
        previous = self.index
        still = (self.ours,) if keep_open and self.ours is not None else ()
        draft = next_index(previous, self.stack, live, ledger, written="", still_open=still, kept=kept)
        closed = tuple(r.lock for r in (previous.open if previous else ())
                       if r not in still and r.lock not in self.lock.records)
        return await self.write(draft, closed)

    async def write(self, draft: Index, archive: tuple[str, ...] = ()) -> Index:
        """Write `draft` as the next generation over the one read, then archive what it no longer
        needs (the old shards it does not keep, strays, and `archive`)."""
        previous = self.index
        if previous is not None:
            draft = draft.model_copy(update={"head": previous.head, "created_at": previous.created_at})
        old = previous.shards if previous else ()
        refs = await self._create_shards(layout(self.stack, index_items(draft), old))
        await self.lock.renew()
        written = await self._put_head(draft.model_copy(update={"written": iso(self.lock.stamped)}), refs)
        kept = {r.id for r in refs}
        await self._archive([*(s.id for s in old if s.id not in kept), *self.strays, *archive])
        self.index, self.strays = written, ()
        return written

    async def _create_shards(self, planned: list[Planned]) -> list[ShardRef]:
        async def one(p: Planned) -> ShardRef:
            if p.id is not None:
                return p.ref()
            assert p.metadata is not None
            body = {"name": f"metorial-apply index shard: {self.stack}", "metadata": p.metadata,
                    "description": "Part of a metorial-apply stack index; written only by metorial-apply."}
            for _ in range(3):  # a lost answer's shard, if it landed, is a stray the next write archives
                with suppress(OutcomeUnknownError):
                    answer = await self.client.create(PATH, body, kind=CALL_KIND, name=NO_NAME, stamp={})
                    self._check(answer, p.metadata, "an index shard")
                    return p.ref(answer["id"])
            raise IndexWriteError(f"stack {self.stack!r}: the API lost 3 answers to an index shard's create in a row")

        return list(await asyncio.gather(*(one(p) for p in planned)))

    async def _put_head(self, index: Index, shards: tuple[ShardRef, ...] | list[ShardRef]) -> Index:
        shards = tuple(shards)
        digest = head_digest(index, [s.digest for s in shards])
        metadata = head_metadata(index, shards, sign(digest, self.private_key) if self.private_key else None)
        if index.head is None:
            body: dict[str, Any] = {"name": f"metorial-apply index: {self.stack}", "metadata": metadata,
                                    "description": "The stack index of metorial-apply: what this stack owns. "
                                                   "Do not edit; `metorial-apply index rebuild` restores it."}
            answer = await self._create_head(body)
        else:
            answer = await self.client.update(PATH, index.head, {"metadata": metadata}, kind=CALL_KIND, name=NO_NAME)
        self._check(answer, metadata, "the index head")
        return index.model_copy(update={"head": answer["id"], "shards": shards,
                                        "created_at": index.created_at or answer.get("created_at")})

    async def _create_head(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create the head; after a lost response, the list says whether it landed (never two heads)."""
        for _ in range(3):
            try:
                return await self.client.create(PATH, body, kind=CALL_KIND, name=NO_NAME, stamp={})
            except OutcomeUnknownError:
                listed = await self.client.list_all(PATH, kind=CALL_KIND)
                landed = [h for h in heads_of(self.stack, listed) if h.get("metadata") == body["metadata"]]
                if landed:
                    return dict(landed[0])
        raise IndexWriteError(f"stack {self.stack!r}: the API lost 3 answers to the index head's create in a row")

    def _check(self, answer: dict[str, Any], sent: dict[str, str], what: str) -> None:
        if not isinstance(answer.get("id"), str) or answer.get("metadata") != sent:
            raise IndexWriteError(f"stack {self.stack!r}: the API accepted {what} but did not keep it as written")

    async def _archive(self, ids: list[str]) -> None:
        """Archive records the index no longer needs; one that cannot be is a stray the next write retries."""
        async def one(id: str) -> None:
            with suppress(NotFoundError, GoneError):
                await self.client.delete(PATH, id, kind=CALL_KIND, name=NO_NAME)

        await asyncio.gather(*(one(i) for i in sorted(set(ids))), return_exceptions=True)
