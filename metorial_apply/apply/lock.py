"""The stack lock's I/O: write our lock record, read everyone's, wait or proceed, renew in the
background, release. The rules it follows are pure, in `core/lock.py`; the design is the
README's "Stack lock".

    async with hold_stack_lock(client, "prod", LockSettings(), on_note=print) as held:
        ...  # read live state, plan, apply; `held.lost` is set if the lock is lost meanwhile
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Any

from metorial_apply.api.client import MetorialClient
from metorial_apply.core.errors import ApiError, GoneError, NotFoundError, OutcomeUnknownError
from metorial_apply.core.index import OPEN_KEY, StackIndexError, heads_of
from metorial_apply.core.kinds import KINDS
from metorial_apply.core.lock import (
    REREADS,
    LockError,
    LockHeldError,
    LockRecord,
    LockSettings,
    Verdict,
    decide,
    lapsed,
    lock_metadata,
    parse_time,
    printable,
)
from metorial_apply.core.runs import parse_open

log = logging.getLogger(__name__)

PATH = KINDS["session_template"].path
# Lock calls count as kind "lock" in --stats; with no name they carry no address, so journals
# (and what reads them, like the benchmarks) never take them for a change's calls.
CALL_KIND, NO_NAME = "lock", ""
CREATE_ATTEMPTS = 3
RELEASE_TIMEOUT_S = 15.0

Note = Callable[[str], None]


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


async def lock_records(client: MetorialClient) -> list[LockRecord]:
    """Every lock record of the organization (every stack): one paginated list of session templates.
    No filter narrows it safely (`search` semantics are undocumented), so the whole list is read."""
    return _records(await client.list_all(PATH, kind=CALL_KIND))


async def lock_listing(client: MetorialClient, stack: str) -> tuple[list[LockRecord], frozenset[str]]:
    """Every lock record, and the lock records `stack`'s index names as open runs (from the same
    list): those are kept after they expire, since their last renewal bounds what the run made."""
    items = await client.list_all(PATH, kind=CALL_KIND)
    return _records(items), open_locks(stack, items)


def _records(items: list[dict[str, Any]]) -> list[LockRecord]:
    return [r for r in (LockRecord.from_api(o) for o in items) if r is not None]


def open_locks(stack: str, items: list[dict[str, object]]) -> frozenset[str]:
    out: set[str] = set()
    for head in heads_of(stack, items):
        with suppress(StackIndexError):
            out |= {r.lock for r in parse_open(head["metadata"].get(OPEN_KEY), "open runs", StackIndexError)}
    return frozenset(out)


async def delete_record(client: MetorialClient, record: LockRecord) -> None:
    """Archive a lock record; already gone counts as done."""
    with suppress(NotFoundError, GoneError):
        await client.delete(PATH, record.id, kind=CALL_KIND, name=NO_NAME)


class StackLock:
    """One run's claim on one stack's lock."""

    def __init__(self, client: MetorialClient, stack: str, settings: LockSettings, *, run: str | None = None,
                 on_note: Note = lambda text: None) -> None:
        self.client, self.stack, self.settings = client, stack, settings
        self.run = run or new_run_id()
        self.host, self.pid = printable(socket.gethostname() or "unknown-host"), os.getpid()
        self.note = on_note
        self.records: list[str] = []  # ids of our records (more than one only after a lost create response)
        self.renewals = 0
        self.stamped: datetime | None = None  # server time of our last successful write
        self.renewed_at = time.monotonic()  # local time of it, only to give up renewing in time
        self.written_at = time.monotonic()  # local time our record's create returned (set by _adopt)
        self.lost = asyncio.Event()
        self.reason: str | None = None
        # Set while this run's entry in the stack index is open: the record is then kept at
        # release (expiring at once), since its last renewal bounds what the run made.
        self.keep_record = False
        self.open_locks: frozenset[str] = frozenset()  # other runs' records the index still needs

    def _body(self, ttl_s: float | None = None) -> dict[str, object]:
        metadata = lock_metadata(self.stack, self.run, self.host, self.pid, ttl_s or self.settings.ttl_s,
                                 self.renewals)
        return {"metadata": metadata}

    async def _create(self) -> None:
        """Write our record. A lost response is never re-sent blindly: our run id finds it."""
        body = {"name": f"metorial-apply lock: {self.stack}", **self._body(),
                "description": f"Stack lock held by metorial-apply run {self.run}; removed when the run ends."}
        for _ in range(CREATE_ATTEMPTS):
            try:
                obj = await self.client.create(PATH, body, kind=CALL_KIND, name=NO_NAME, stamp=body["metadata"])
            except OutcomeUnknownError:
                await asyncio.sleep(self.settings.settle_s)
                mine = [r for r in await lock_records(self.client) if r.run == self.run]
                if mine:
                    self._adopt(mine)
                    return
                continue
            self._adopt([r for r in [LockRecord.from_api(obj)] if r is not None], fallback=obj.get("id"))
            return
        raise LockError(f"could not write the lock record of stack {self.stack!r}: the API lost {CREATE_ATTEMPTS} "
                        "create responses in a row")

    def _adopt(self, mine: list[LockRecord], fallback: object = None) -> None:
        mine = sorted(mine, key=LockRecord.order)  # the oldest is the one we renew: it holds our place
        self.records = [r.id for r in mine] or ([fallback] if isinstance(fallback, str) else [])
        times = [r.updated_at for r in mine if r.updated_at is not None]
        if not self.records or not times:
            raise LockError("the API returned the lock record without a readable id or timestamps; cannot lock")
        self.stamped, self.renewed_at = max(times), time.monotonic()
        # After the create returned, or after a list showed the record whose create response was
        # lost: either way no sooner than the record was written, which is all the skew rule needs.
        self.written_at = self.renewed_at

    async def renew(self) -> None:
        """PATCH our record (bumping updated_at); raise LockError if it is gone or aged past safety."""
        self.renewals += 1
        try:
            obj = await self.client.update(PATH, self.records[0], self._body(), kind=CALL_KIND, name=NO_NAME)
        except (NotFoundError, GoneError):
            raise LockError(f"the lock record of stack {self.stack!r} was deleted (broken by hand with `unlock`, "
                            "or judged expired by another run)") from None
        current = parse_time(obj.get("updated_at"))
        if current is None or self.stamped is None:
            raise LockError("the API returned the lock record without a readable updated_at; cannot keep the lock")
        if lapsed(self.stamped, current, self.settings.ttl_s, self.settings.margin_s):
            raise LockError(f"the lock of stack {self.stack!r} went {(current - self.stamped).total_seconds():.0f} s "
                            f"without renewal (TTL {self.settings.ttl_s:g} s): another run may have taken it")
        self.stamped, self.renewed_at = current, time.monotonic()

    async def acquire(self) -> None:
        """Write our record, then read until ours is the oldest unexpired one in a list read late
        enough to show every record that can sort before it, or the timeout passes."""
        deadline = time.monotonic() + self.settings.timeout_s
        await self._create()
        await asyncio.sleep(self.settings.settle_s)
        waiting_on, rereads = None, 0
        while True:
            read_at = time.monotonic()
            records, self.open_locks = await lock_listing(self.client, self.stack)
            decision = decide(records, self.stack, self.run, self.stamped, since_write_s=read_at - self.written_at,
                              horizon_s=self.settings.horizon_s)
            if decision.verdict is Verdict.PROCEED:
                await self.renew()  # fails if someone judged us expired meanwhile
                await self._clear(decision.expired)
                return
            if decision.verdict is Verdict.CONFIRM:
                await asyncio.sleep(decision.after_s)  # then read once more: it may show an older record
                continue
            if decision.verdict is Verdict.REREAD:
                rereads += 1
                if rereads > REREADS:
                    raise LockError("the API's list keeps missing the lock record just written; cannot lock safely")
                await asyncio.sleep(max(self.settings.settle_s, 0.1))
                continue
            assert decision.holder is not None
            waiting_on = await self._wait(decision.holder, waiting_on, deadline)

    async def _wait(self, holder: LockRecord, waiting_on: str | None, deadline: float) -> str:
        """Wait a poll period for `holder` (raising LockHeldError once the timeout has passed),
        saying so when the holder is a new one; renew our record meanwhile. Returns its id."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise LockHeldError(holder, self.settings.timeout_s)
        if holder.id != waiting_on:
            self.note(f"waiting up to {left:.0f} s for the lock of stack {self.stack!r}, held by {holder.describe()}")
        await asyncio.sleep(min(self.settings.poll_s, left))
        await self.renew()
        return holder.id

    async def _clear(self, expired: tuple[LockRecord, ...]) -> None:
        for record in expired:
            self.note(f"the lock of stack {self.stack!r} held by {record.describe()} expired (TTL {record.ttl_s:g} s) "
                      "without release: that run was probably killed. Proceeding; this run's plan includes "
                      "whatever it left half done.")
            if record.id in self.open_locks:  # its last renewal bounds its run: the index merge archives it
                continue
            try:
                await delete_record(self.client, record)
            except ApiError as exc:
                log.debug("could not remove an expired lock record: %s", exc)

    async def keep(self) -> None:
        """Renew every quarter TTL until cancelled; on failure set `lost` (the run must stop)."""
        while True:
            await asyncio.sleep(self.settings.renew_every_s)
            try:
                await self.renew()
            except LockError as exc:
                self._lose(str(exc))
                return
            except ApiError as exc:
                since = time.monotonic() - self.renewed_at
                if since > self.settings.ttl_s - self.settings.margin_s - self.settings.renew_every_s:
                    self._lose(f"could not renew the lock of stack {self.stack!r} for {since:.0f} s ({exc})")
                    return
                log.debug("lock renewal failed, will retry: %s", exc)

    def _lose(self, reason: str) -> None:
        self.reason = reason
        self.lost.set()

    async def release(self) -> None:
        """Archive our records; what cannot be removed expires by its TTL. With `keep_record` the
        record is renewed once more with a TTL of 1 s instead: expired at once, still listed."""
        try:
            async with asyncio.timeout(RELEASE_TIMEOUT_S):
                if self.keep_record:
                    self.renewals += 1
                    await self.client.update(PATH, self.records[0], self._body(1.0), kind=CALL_KIND, name=NO_NAME)
                    return
                for id in self.records:
                    with suppress(NotFoundError, GoneError):
                        await self.client.delete(PATH, id, kind=CALL_KIND, name=NO_NAME)
        except (ApiError, TimeoutError) as exc:
            self.note(f"could not release the lock of stack {self.stack!r} ({printable(exc, 200)}); it expires "
                      f"{self.settings.ttl_s:g} s after its last renewal, or `metorial-apply unlock --stack "
                      f"{self.stack} {self.run}`")


@asynccontextmanager
async def hold_stack_lock(client: MetorialClient, stack: str, settings: LockSettings, *, run: str | None = None,
                          on_note: Note = lambda text: None) -> AsyncIterator[StackLock]:
    """Take the stack lock (waiting up to settings.timeout_s), renew it while the body runs,
    release it on the way out, whatever the way out (error, cancellation)."""
    lock = StackLock(client, stack, settings, run=run, on_note=on_note)
    keeper: asyncio.Task[None] | None = None
    try:
        await lock.acquire()
        keeper = asyncio.create_task(lock.keep())
        yield lock
    finally:
        if keeper is not None:
            keeper.cancel()
            with suppress(asyncio.CancelledError):
                await keeper
        if lock.records:
            await lock.release()
