"""The stack lock's rules, pure: which API objects are lock records, who holds the lock, when a
record has expired, and what a run does next. The I/O is `apply/lock.py`; the design is the
README's "Stack lock".

A lock record is a session template (the only kind that needs no provider) whose metadata
carries `metorial-apply/lock: <stack>` and never an `address`, so nothing reads it as a resource.
The API has no compare-and-set, so a run never claims an existing object: it adds a record of
its own and the oldest unexpired record, by (created_at, id), holds the lock. Every time is the
server's (the created_at/updated_at it returns), never this machine's clock; only how long ago
our own record was written is measured locally, since that needs no agreement between clocks.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pydantic import Field, model_validator

from metorial_apply.core.errors import MetorialApplyError
from metorial_apply.core.model import STAMP_PREFIX, Frozen
from metorial_apply.core.scrub import SECRETS

LOCK_KEY = STAMP_PREFIX + "lock"  # the stack the record locks
ADDRESS_KEY = STAMP_PREFIX + "address"  # a resource's stamp: what a lock record never carries
RUN_KEY = STAMP_PREFIX + "lock-run"
HOST_KEY = STAMP_PREFIX + "lock-host"
PID_KEY = STAMP_PREFIX + "lock-pid"
TTL_KEY = STAMP_PREFIX + "lock-ttl"  # seconds after its last renewal that the record expires
RENEWAL_KEY = STAMP_PREFIX + "lock-renewal"  # bumped by each renewal, so every PATCH changes the object

DEFAULT_TTL_S = 120.0
DEFAULT_SETTLE_S = 1.0
DEFAULT_SKEW_S = 5.0
MAX_TTL_S = 86_400.0
REREADS = 10  # lists that may miss our own record before we give up (the API keeps not showing it)
SHOWN = 80  # characters of a metadata value we print


class LockError(MetorialApplyError):
    """The stack lock could not be taken or kept."""


class LockHeldError(LockError):
    """Another run holds the stack lock; names it."""

    def __init__(self, holder: LockRecord, waited_s: float) -> None:
        self.holder = holder
        waited = f" after waiting {waited_s:.0f} s" if waited_s >= 1 else ""
        super().__init__(
            f"stack {holder.stack!r} is locked{waited} by {holder.describe()}: another apply or destroy is "
            f"running. Retry later, wait with --lock-timeout SECONDS, or if that run is gone, {unlock_hint(holder)} "
            f"(the lock also expires {holder.ttl_s:.0f} s after its last renewal)"
        )


RUN_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def unlock_hint(holder: LockRecord) -> str:
    """The command that breaks the lock, shell-quoted; a run id metorial-apply never writes (any
    key of the organization can write one) is not pasted into a command at all."""
    if RUN_ID.fullmatch(holder.run):
        return f"`metorial-apply unlock --stack {shlex.quote(holder.stack)} {shlex.quote(holder.run)}`"
    return (f"archive its lock record {printable(holder.id)} by hand (its run id is not one metorial-apply "
            "writes, so no command is suggested)")


def printable(text: object, limit: int = SHOWN) -> str:
    """A metadata value as one safe line: anyone in the organization can write metadata, so
    control and format characters (ESC, newlines, bidi overrides) never reach a terminal."""
    clean = "".join(c if c.isprintable() else "?" for c in SECRETS.scrub_server(str(text)))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def parse_time(value: Any) -> datetime | None:
    """An API timestamp (ISO 8601, `Z` or offset) as an aware UTC datetime; None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def show_time(moment: datetime | None) -> str:
    if moment is None:
        return "(unknown time)"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def lock_stack(obj: Mapping[str, Any]) -> str | None:
    """The stack an API object locks, or None if it is not a lock record. An object that carries
    an ownership address is a resource whatever else its metadata says (any key of the
    organization can add `metorial-apply/lock` to it): it is never a lock record, so it is never
    hidden from the live read nor taken for a holder of the lock."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or ADDRESS_KEY in metadata:
        return None
    value = metadata.get(LOCK_KEY)
    return value if isinstance(value, str) else None


def is_lock_record(obj: Mapping[str, Any]) -> bool:
    return lock_stack(obj) is not None


class LockRecord(Frozen):
    """One lock record as the server returned it."""

    id: str
    stack: str
    run: str
    host: str = "?"
    pid: str = "?"
    ttl_s: float = DEFAULT_TTL_S
    created_at: datetime | None = None  # None (unreadable) sorts first and never expires: held until unlocked
    updated_at: datetime | None = None

    @classmethod
    def from_api(cls, obj: Mapping[str, Any]) -> LockRecord | None:
        stack = lock_stack(obj)
        if stack is None or not isinstance(obj.get("id"), str):
            return None
        meta = obj["metadata"]
        try:
            ttl = min(MAX_TTL_S, max(1.0, float(meta.get(TTL_KEY, DEFAULT_TTL_S))))
        except (TypeError, ValueError):
            ttl = DEFAULT_TTL_S
        return cls(id=obj["id"], stack=stack, run=str(meta.get(RUN_KEY, "")), host=printable(meta.get(HOST_KEY, "?")),
                   pid=printable(meta.get(PID_KEY, "?")), ttl_s=ttl, created_at=parse_time(obj.get("created_at")),
                   updated_at=parse_time(obj.get("updated_at")) or parse_time(obj.get("created_at")))

    def order(self) -> tuple[datetime, str]:
        """The total order of records: created_at, then id."""
        return (self.created_at or datetime.min.replace(tzinfo=UTC), self.id)

    def expired(self, now: datetime | None) -> bool:
        """Older than its TTL at `now` (server time); never when either time is unknown."""
        if now is None or self.updated_at is None or self.created_at is None:
            return False
        return (now - self.updated_at).total_seconds() > self.ttl_s

    def describe(self) -> str:
        return (f"run {printable(self.run)} on host {self.host} (pid {self.pid}) since {show_time(self.created_at)} "
                f"(server time; last renewed {show_time(self.updated_at)})")


def lock_metadata(stack: str, run: str, host: str, pid: int, ttl_s: float, renewal: int) -> dict[str, str]:
    """The whole metadata of a lock record (PATCH replaces metadata, so renewals send all of it)."""
    return {LOCK_KEY: stack, RUN_KEY: run, HOST_KEY: host, PID_KEY: str(pid), TTL_KEY: f"{ttl_s:g}",
            RENEWAL_KEY: str(renewal)}


def server_now(records: Iterable[LockRecord], *seen: datetime | None) -> datetime | None:
    """The latest server time we know of: every timestamp the server returned was stamped before
    it answered, so the latest is a lower bound of the server's now (records look younger, never older)."""
    times = [t for r in records for t in (r.created_at, r.updated_at) if t is not None]
    times += [t for t in seen if t is not None]
    return max(times, default=None)


def lapsed(previous: datetime, current: datetime, ttl_s: float, margin_s: float) -> bool:
    """Between two renewals our record aged past what another run may call expired, less
    `margin_s` (LockSettings.margin_s): that run may read a renewal a settle delay late, and both
    our two stamps and its idea of now may come from servers whose clocks differ."""
    return (current - previous).total_seconds() > ttl_s - margin_s


class Verdict(Enum):
    PROCEED = "proceed"  # ours is the oldest unexpired record: we hold the lock
    WAIT = "wait"  # an older unexpired record holds it
    REREAD = "reread"  # the list does not show our own record yet: it may miss others too
    CONFIRM = "confirm"  # ours looks oldest, but the list was read too soon to show every older record


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    holder: LockRecord | None = None  # with WAIT: the oldest unexpired record
    expired: tuple[LockRecord, ...] = ()  # other runs' records past their TTL: ignored, to be cleared
    after_s: float = 0.0  # with CONFIRM: read again this many seconds from now


def decide(records: Sequence[LockRecord], stack: str, run: str, seen: datetime | None, *, since_write_s: float,
           horizon_s: float) -> Decision:
    """What a run does after a list of lock records read `since_write_s` seconds (this machine's
    monotonic clock) after its own record's create returned. `seen` is the server time of our
    last write; expiry is judged by server_now(records, seen), never by this machine's clock,
    which may be any distance from the servers'. `horizon_s` is LockSettings.horizon_s."""
    ours = [r for r in records if r.stack == stack]
    if not any(r.run == run for r in ours):
        return Decision(Verdict.REREAD)
    now = server_now(records, seen)
    stale = tuple(sorted((r for r in ours if r.run != run and r.expired(now)), key=LockRecord.order))
    alive = [r for r in ours if r.run == run or not r.expired(now)]
    first = min(alive, key=LockRecord.order)
    if first.run != run:
        return Decision(Verdict.WAIT, holder=first, expired=stale)
    if since_write_s < horizon_s:
        # A record that sorts before ours can be written up to the clock skew after ours (a
        # server whose clock is behind stamps it older) and show in lists a settle delay later:
        # this list may have missed it. A read already that late (after waiting on another
        # holder, or after rereads) is trusted as it is, which is why the rule costs nothing on
        # a contended lock: only a run that finds the lock free at once reads a second time.
        return Decision(Verdict.CONFIRM, after_s=horizon_s - since_write_s)
    return Decision(Verdict.PROCEED, expired=stale)


class LockSettings(Frozen):
    """TTL, settle delay, tolerated clock skew between the API's servers, and how long to wait for
    another run's lock (all seconds)."""

    ttl_s: float = Field(default=DEFAULT_TTL_S, ge=1.0, le=MAX_TTL_S)
    settle_s: float = Field(default=DEFAULT_SETTLE_S, ge=0.0)
    skew_s: float = Field(default=DEFAULT_SKEW_S, ge=0.0)
    timeout_s: float = Field(default=0.0, ge=0.0)

    @model_validator(mode="after")
    def _settle_fits(self) -> LockSettings:
        # Our record goes unrenewed from its create until the confirming read: that must stay
        # well inside the TTL, leaving room for the margin below.
        if self.settle_s > self.ttl_s / 4:
            raise ValueError("the settle delay must be at most a quarter of the lock TTL")
        if self.horizon_s > self.ttl_s / 4:
            raise ValueError("the settle delay plus the clock skew must be at most a quarter of the lock TTL")
        return self

    @property
    def horizon_s(self) -> float:
        """How long after our record's create returned a list must be read to show every record
        that can sort before ours: one written up to the skew later still gets an older
        created_at from a server whose clock is behind, and shows in lists a settle delay later."""
        return self.settle_s + self.skew_s

    @property
    def margin_s(self) -> float:
        """How much sooner than its TTL another run may call our record expired: it may read a
        renewal a settle delay late, its idea of now may come from a server whose clock is ahead
        by the skew, and the stamps we measure our renewals by, from one behind by the skew."""
        return self.settle_s + 2 * self.skew_s

    @property
    def renew_every_s(self) -> float:
        """Renewal period: a quarter of the TTL leaves three renewals' slack before anyone may
        call the record expired."""
        return self.ttl_s / 4

    @property
    def poll_s(self) -> float:
        """How often a waiting run looks again (each look also renews its own record)."""
        return min(2.0, self.ttl_s / 4)
