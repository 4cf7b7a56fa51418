"""One list read from both ends at once (issue 24).

A list's pages come one after another: each `after` cursor is the previous page's last id, so a
kind of n objects read from its start costs ⌈n/100⌉ round trips in a row, and the largest kind
sets the floor of a live read. Read from the start (`order=asc`) and from the end (`order=desc`,
following its own `after` cursor, which continues in the list's own order: lowerdeck's
paginator, see emulator/choices.py "Pagination") at once, it costs about ⌈n/200⌉ + 1, and the
two walks stop where they meet: a page holding an id the other walk has already seen.

Calls: the first page goes alone, so a list that fits in one page costs one call, as before.
After it the two walks cost today's ⌈n/100⌉ plus one at most, except in one case no reader with
two requests in flight can avoid: when nothing lies between the walks' last ids, both next
pages only prove that (two calls more than ⌈n/100⌉ then, for one n in 200).

What existed throughout the read is listed once, neither lost nor doubled: the up walk sees
every such object up to its last id and the down walk every one from its last id on, so once a
down page holds an id the up walk saw (or the reverse) nothing lies between; ids seen by both
are kept once. Objects created or archived during the read may or may not be listed, as with
one walk. A server that does not honour `order=desc` (answering the first page again), repeats
an id within the down walk, lets it reach the start without meeting, or answers more than the
100 objects a page asks for, is not trusted: the down walk is dropped and the up walk reads on
alone, exactly the read from the start alone.

Bounds: both walks spend the one ListBudget of the read (objects and bytes), so reading from
both ends does not double what a hostile server can make a run hold. The ids seen are kept
until the list is read, to find where the walks meet (a few MiB per 100,000 objects); a server
whose pages pass the limit never gets a down walk, so its endless pages cost what they did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from metorial_apply.api.limits import ListBudget
from metorial_apply.api.responses import invalid_response, page_of
from metorial_apply.api.tasks import gather_or_cancel
from metorial_apply.core.errors import ApiCall, ApiError

Raw = dict[str, Any]
Fetch = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]  # a page's query → its JSON body
KeepPage = Callable[[list[Raw]], list[Raw]]  # what is kept of a page's items new to the read
PAGE_SIZE = 100
MAX_PAGES = 10_000  # 1,000,000 objects of one kind: a bound, not an expectation
MAX_CURSOR = 1000  # characters of an id sent back as `after=`; the API's ids are a few dozen


def next_cursor(call: ApiCall, last: Any, after: str | None) -> str:
    """The `after` of the next page: the last id of this one, which must be a new string short
    enough to send back (httpx refuses a longer URL: a crash, not an answer)."""
    if not isinstance(last, str) or last == after:
        raise invalid_response(call, None, "pagination did not advance")
    if len(last) > MAX_CURSOR:
        raise invalid_response(call, None, f"a page's last id is longer than {MAX_CURSOR:,} characters")
    return last


def string_id(item: Raw) -> str | None:
    id = item.get("id")
    return id if isinstance(id, str) else None


@dataclass
class Walk:
    """One direction's pages: the ids it saw (each → its place in the walk), what it kept (in
    its own order) and its cursor."""

    desc: bool
    seen: dict[str, int] = field(default_factory=dict)
    kept: list[Raw] = field(default_factory=list)
    after: str | None = None
    pages: int = 0


@dataclass
class Ends:
    """Both walks of one list and where they stand; `read()` is the list, in ascending order."""

    call: ApiCall
    fetch: Fetch
    keep: KeepPage
    budget: ListBudget
    bytes_read: Callable[[], int]
    params: Mapping[str, Any] = field(default_factory=dict)
    up: Walk = field(default_factory=lambda: Walk(desc=False))
    down: Walk = field(default_factory=lambda: Walk(desc=True))
    met: bool = False  # the walks met, or the up walk reached the end: the list is read
    alone: bool = False  # the down walk was dropped: the up walk reads on alone

    @property
    def chain(self) -> int:
        """The longest run of pages that had to wait for one another (the down walk starts
        after the first page)."""
        return max(self.up.pages, 1 + self.down.pages if self.down.pages else 0)

    async def read(self) -> list[Raw]:
        if await self._step(self.up):  # the first page alone: a list of one page costs one call
            await self._both()
        return self.up.kept + ([] if self.alone else self.down.kept[::-1])

    async def _both(self) -> None:
        """Both walks in rounds: a page each at once, each taken in as it arrives; the next round
        only once both are in, so that where they meet is known before more is asked (a walk
        that asked for its next page as soon as its own arrived would ask once too often)."""
        while not self.met:
            walks = (self.up,) if self.alone else (self.up, self.down)
            await gather_or_cancel(*(self._step(walk) for walk in walks))

    async def _step(self, walk: Walk) -> bool:
        """One page of `walk`; whether the walk goes on."""
        if walk.pages >= MAX_PAGES:
            if walk.desc:
                return self._drop_down()
            raise invalid_response(self.call, None, f"more than {MAX_PAGES} pages")
        query = {**self.params, "limit": PAGE_SIZE} | ({"order": "desc"} if walk.desc else {})
        batch, more = page_of(self.call, await self.fetch(query | ({"after": walk.after} if walk.after else {})))
        if self.met or (walk.desc and self.alone):
            return False  # the list was read meanwhile (or this walk dropped): the page is not needed
        walk.pages += 1
        count, last, go = self._arrive(walk, batch, more)
        # The parsed page goes now, not held by the traceback of a budget error (api/client.py).
        del batch
        self.budget.take(self.call, count, self.bytes_read())
        if not go:
            return False
        return self._advance(walk, last)

    def _advance(self, walk: Walk, last: Any) -> bool:
        """Move `walk`'s cursor on; a down walk whose cursor cannot move is dropped, not an error
        (the up walk meets the same page on its own, and says so)."""
        try:
            walk.after = next_cursor(self.call, last, walk.after)
        except ApiError:
            if walk.desc:
                return self._drop_down()
            raise
        return True

    def _arrive(self, walk: Walk, batch: list[Raw], more: bool) -> tuple[int, Any, bool]:
        """Take in one page of `walk` (no await: the walks never see each other half-done);
        (objects on the page, its last id, whether the walk goes on)."""
        last = batch[-1].get("id") if batch else None
        ids = [string_id(item) for item in batch]
        other = self.down if walk is self.up else self.up
        if not self.alone and not self._trusted(walk, ids):
            self._drop_down()
            if walk.desc:
                return len(batch), last, False
        met = not self.alone and any(i in other.seen for i in ids if i is not None)
        new = [item for item, i in zip(batch, ids, strict=True)
               if i is None or (i not in other.seen and not (walk.desc and i in walk.seen))]
        if not self.alone:  # alone, the up walk meets nothing: its ids are not kept
            for i in ids:
                if i is not None:
                    walk.seen.setdefault(i, len(walk.seen))
        walk.kept.extend(self.keep(new))
        end = not more or not batch
        if met or (end and not walk.desc):
            self.met = True
            return len(batch), last, False
        if end:  # the down walk reached the start without meeting the up walk: not trusted
            self._drop_down()
            return len(batch), last, False
        return len(batch), last, True

    def _trusted(self, walk: Walk, ids: list[str | None]) -> bool:
        """Whether a page can be believed about where the walks meet: the ids the other walk saw
        come in the reverse of its order (a server that ignores `order=desc` answers the first
        page again, in the up walk's order), a down page's ids are strings new to its walk, and
        no page is longer than asked for."""
        other = self.down if walk is self.up else self.up
        if len(ids) > PAGE_SIZE:
            return False  # more than the limit asked for: a server that ignores `limit` (a hostile one)
        if walk.desc and any(i is None or i in walk.seen for i in ids):
            return False
        places = [other.seen[i] for i in ids if i is not None and i in other.seen]
        if walk.desc and walk.pages == 1 and places and ids[0] in other.seen:
            return False  # the end of the list is on the first page: the same page, asked twice
        return all(a > b for a, b in pairwise(places))

    def _drop_down(self) -> bool:
        """Stop trusting the down walk: forget what it saw, let the up walk read on alone."""
        if not self.alone:
            self.alone = True
            self.down.kept.clear()
            self.down.seen.clear()
            self.up.seen.clear()
        return False
