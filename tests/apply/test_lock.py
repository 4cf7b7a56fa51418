"""The stack lock through the real CLI against `emulator serve` over HTTP: concurrent applies,
a waiting run, a `kill -9`ed holder, signals, `unlock`, saved plans, and a race run many times.

A lock held by "another machine" is written straight through the API, as any key of the
organization could (`hold`)."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from metorial_apply.api.client import open_client
from metorial_apply.api.live import live_state
from metorial_apply.apply.lock import StackLock, hold_stack_lock
from metorial_apply.core.lock import LOCK_KEY, RUN_KEY, LockError, LockSettings, lock_metadata
from metorial_apply.core.model import Catalog
from metorial_apply.emulator.process import EmulatorAdmin
from tests.apply.conftest import Result, run_cli
from tests.apply.test_faults import big_stack, expected_addresses
from tests.emulator_server import SECRET_KEY, EmulatorProcess, EmulatorThread, child_env

GROUPS = 15  # 60 resources


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorProcess]:
    with EmulatorProcess.start(tmp_path / "db.sqlite3", "--latency-ms", "20") as running:
        yield running


def env_for(server: EmulatorProcess) -> dict[str, str]:
    return {"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY}


def start(server: EmulatorProcess, *args: str) -> subprocess.Popen[str]:
    # One emulator, one clock: no skew to wait out (tests/apply/test_lock_skew.py has two).
    env = child_env({"CI": "1", "NO_COLOR": "1", "METORIAL_APPLY_LOCK_SKEW": "0", **env_for(server)})
    return subprocess.Popen([sys.executable, "-m", "metorial_apply", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish(process: subprocess.Popen[str], timeout: float = 120) -> Result:
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
    return Result(process.returncode, out, err)


def locks(server: EmulatorAdmin, status: str = "active") -> list[dict[str, Any]]:
    return [o for o in server.objects(status=status) if LOCK_KEY in (o.get("metadata") or {})]


def stamps(server: EmulatorProcess, stack: str) -> Counter[str]:
    return Counter(o["metadata"]["metorial-apply/address"] for o in server.objects(stack, status="active"))


def assert_applied_once(server: EmulatorProcess, stack: str, groups: int = GROUPS) -> None:
    counts = stamps(server, stack)
    assert set(counts) == expected_addresses(groups)
    assert max(counts.values()) == 1, [a for a, n in counts.items() if n > 1]


def journal_run(path: Path) -> str:
    return json.loads(path.read_text().splitlines()[0])["run"]


def hold(server: EmulatorProcess, stack: str, run: str = "other-run", ttl: float = 600) -> str:
    """A lock record as another machine's run writes it; returns its id."""
    body = {"name": f"metorial-apply lock: {stack}", "metadata": lock_metadata(stack, run, "build-7", 99, ttl, 0)}
    response = httpx.post(f"{server.url}/session-templates", json=body, timeout=10,
                          headers={"Authorization": f"Bearer {SECRET_KEY}"})
    response.raise_for_status()
    return str(response.json()["id"])


def wait_until(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_two_concurrent_applies_one_applies_the_other_names_the_holder(tmp_path: Path,
                                                                      server: EmulatorProcess) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack(GROUPS, stack="twice"))
    journals = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    runs = [start(server, "apply", str(path), "--auto-approve", "--journal", str(j)) for j in journals]
    results = [finish(p) for p in runs]
    assert sorted(r.code for r in results) == [0, 1], [r.out[-800:] + r.err for r in results]
    winner = next(i for i, r in enumerate(results) if r.code == 0)
    loser = results[1 - winner]
    assert f"{len(expected_addresses(GROUPS))} done, 0 failed" in results[winner].out
    holder = f"is locked by run {journal_run(journals[winner])} on host {socket.gethostname()} (pid "
    assert holder in loser.err and "since 20" in loser.err and "unlock --stack twice" in loser.err
    assert "Traceback" not in loser.err and "created" not in loser.out
    assert_applied_once(server, "twice")
    assert locks(server) == [] and len(locks(server, "archived")) == 2  # both records removed


def test_a_waiting_run_applies_after_the_holder_and_finds_nothing_to_do(tmp_path: Path) -> None:
    """With a 2 s TTL and an apply that takes longer (60 creates one at a time, 60 ms each), only
    renewal keeps the waiter out."""
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack(GROUPS, stack="queued"))
    with EmulatorProcess.start(tmp_path / "db.sqlite3", "--latency-ms", "60") as server:
        runs = [start(server, "apply", str(path), "--auto-approve", "--lock-timeout", "120", "--parallelism", "1",
                      "--lock-ttl", "2", "--lock-settle", "0.2") for _ in range(2)]
        results = [finish(p) for p in runs]
        assert_applied_once(server, "queued")
        assert locks(server) == []
    assert [r.code for r in results] == [0, 0], [r.out[-800:] + r.err for r in results]
    waited = [r for r in results if "No changes." in r.out]
    assert len(waited) == 1 and "Lock: waiting up to" in waited[0].err
    assert "expired" not in waited[0].err


def test_a_killed_runs_lock_refuses_then_expires_and_the_next_run_proceeds(tmp_path: Path,
                                                                          server: EmulatorProcess) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack(GROUPS, stack="killed"))
    victim = start(server, "apply", str(path), "--auto-approve", "--parallelism", "2", "--lock-ttl", "6")
    wait_until(lambda: len(server.objects("killed", status="active")) >= 8, "the first run to be applying")
    victim.kill()
    victim.wait(timeout=10)
    [record] = locks(server)
    refused = run_cli(["apply", str(path), "--auto-approve", "--lock-settle", "0.2"], env=env_for(server))
    assert refused.code == 1 and f"is locked by run {record['metadata'][RUN_KEY]}" in refused.err
    started = time.monotonic()
    after = run_cli(["apply", str(path), "--auto-approve", "--lock-timeout", "30"], env=env_for(server))
    assert after.code == 0, after.out[-2000:] + after.err
    assert time.monotonic() - started < 20
    assert "expired (TTL 6 s) without release" in after.err and record["metadata"][RUN_KEY] in after.err
    assert_applied_once(server, "killed")
    assert locks(server) == []  # the expired record was removed too


def test_apply_takes_the_lock_before_the_live_read_and_releases_it_last(tmp_path: Path,
                                                                        server: EmulatorProcess) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack(2, stack="ordered"))
    journal = tmp_path / "j.jsonl"
    result = run_cli(["apply", str(path), "--auto-approve", "--journal", str(journal)], env=env_for(server))
    assert result.code == 0, result.err
    entries = [e for e in map(json.loads, journal.read_text().splitlines()) if e["event"] == "call"]
    calls = [(e["method"], e["path"], e["address"]) for e in entries]
    lock = [i for i, e in enumerate(entries) if e["kind"] == "lock" and e["method"] != "GET"]
    index = [i for i, e in enumerate(entries) if e["kind"] == "index"]
    writes = [i for i, e in enumerate(entries) if e["address"] and e["method"] != "GET"]
    assert calls[lock[0]][0] == "POST" and lock[0] < calls.index(("GET", "/provider-deployments", None))
    assert calls[lock[-1]][0] == "DELETE" and lock[-1] == len(calls) - 1
    # write, confirm, renew before the index's open entry, renew before its new generation, release
    assert [calls[i][0] for i in lock] == ["POST", "PATCH", "PATCH", "PATCH", "DELETE"]
    # the run is recorded as open before its first write, and merged after its last
    assert [calls[i][0] for i in index] == ["POST", "POST", "PATCH"]  # head; shard; head to generation 1
    assert index[0] < writes[0] and index[1] > writes[-1]


def test_a_saved_plan_is_locked_before_its_stale_check(tmp_path: Path, server: EmulatorProcess) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack(2, stack="saved"))
    env = env_for(server)
    assert run_cli(["plan", str(path), "--out", str(tmp_path / "plan.json")], env=env).code == 0
    path.write_text(big_stack(1, stack="saved"))
    assert run_cli(["apply", str(path), "--auto-approve", "--allow-delete", "--force"], env=env).code == 0
    hold(server, "saved")  # another machine's run holds the stack; the saved plan is stale too
    held = run_cli(["apply", str(tmp_path / "plan.json"), "--auto-approve"], env=env)
    assert held.code == 1 and "is locked by run other-run on host build-7 (pid 99)" in held.err
    assert "stale" not in held.err.lower()
    unlocked = run_cli(["unlock", "--stack", "saved", "other-run"], env=env)
    assert unlocked.code == 0 and "removed the lock of run other-run" in unlocked.out
    path.write_text(big_stack(2, stack="saved"))
    stale = run_cli(["apply", str(tmp_path / "plan.json"), "--auto-approve"], env=env)
    assert stale.code == 1 and "is locked" not in stale.err and locks(server) == []


def test_destroy_locks_plan_does_not_and_lock_records_never_show(tmp_path: Path, server: EmulatorProcess) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack(1, stack="shown"))
    env = env_for(server)
    assert run_cli(["apply", str(path), "--auto-approve"], env=env).code == 0
    ids = [hold(server, "shown"), hold(server, "elsewhere", run="third-run")]
    plan = run_cli(["plan", str(path), "--detailed-exitcode"], env=env)
    assert plan.code == 0 and "Warning" not in plan.err, plan.out + plan.err
    as_json = run_cli(["plan", str(path), "--json"], env=env)
    assert not any(i in as_json.out for i in ids) and "other-run" not in as_json.out
    destroy = run_cli(["destroy", str(path), "--auto-approve"], env=env)
    assert destroy.code == 1 and "stack 'shown' is locked by run other-run" in destroy.err
    assert len(server.objects("shown", status="active")) == 4


def test_unlock_names_the_holders_when_the_run_id_is_wrong(tmp_path: Path, server: EmulatorProcess) -> None:
    hold(server, "guarded")
    wrong = run_cli(["unlock", "--stack", "guarded", "nobody"], env=env_for(server))
    assert wrong.code == 1 and "run nobody holds no lock on stack 'guarded'" in wrong.err
    assert "it is held by run other-run on host build-7" in wrong.err
    free = run_cli(["unlock", "--stack", "free", "nobody"], env=env_for(server))
    assert free.code == 1 and "it is not locked" in free.err
    assert len(locks(server)) == 1


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_while_waiting_removes_the_waiting_runs_record(tmp_path: Path, server: EmulatorProcess,
                                                                sig: int, code: int) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack(1, stack="waiting"))
    hold(server, "waiting")
    waiter = start(server, "apply", str(path), "--auto-approve", "--lock-timeout", "60")
    wait_until(lambda: len(locks(server)) == 2, "the waiting run's record")
    waiter.send_signal(sig)
    result = finish(waiter, timeout=30)
    assert result.code == code and "Traceback" not in result.err, result.err
    assert [o["metadata"][RUN_KEY] for o in locks(server)] == ["other-run"]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_while_applying_releases_the_lock(tmp_path: Path, server: EmulatorProcess, sig: int,
                                                   code: int) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack(GROUPS, stack="signalled"))
    run = start(server, "apply", str(path), "--auto-approve", "--parallelism", "2")
    wait_until(lambda: len(server.objects("signalled", status="active")) >= 8, "the run to be applying")
    run.send_signal(sig)
    result = finish(run, timeout=30)
    assert result.code == code, result.out[-2000:] + result.err
    assert locks(server) == []


def test_a_run_whose_lock_is_broken_stops_starting_changes(tmp_path: Path, server: EmulatorProcess) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack(GROUPS, stack="broken"))
    run = start(server, "apply", str(path), "--auto-approve", "--parallelism", "1", "--lock-ttl", "2",
                "--lock-settle", "0.1")
    wait_until(lambda: len(server.objects("broken", status="active")) >= 4, "the run to be applying")
    [record] = locks(server)
    assert run_cli(["unlock", "--stack", "broken", record["metadata"][RUN_KEY]], env=env_for(server)).code == 0
    result = finish(run, timeout=60)
    assert result.code == 1 and "Lock lost: the lock record of stack 'broken' was deleted" in result.out
    assert "Stopped" in result.out and len(server.objects("broken", status="active")) < 4 * GROUPS


def race_files(tmp_path: Path, stack: str) -> tuple[Path, list[Path]]:
    """A fresh 4-resource stack and a journal for each of two runs."""
    path = tmp_path / f"{stack}.yaml"
    path.write_text(big_stack(1, stack=stack))
    return path, [tmp_path / f"{stack}-{i}.jsonl" for i in range(2)]


def assert_one_writer(codes: list[int], journals: list[Path]) -> str:
    """Exactly one run wrote (all 4 changes); the other was refused or came after and found nothing."""
    changes = [Counter(e["outcome"] for e in map(json.loads, j.read_text().splitlines()) if e["event"] == "change")
               for j in journals]
    writers = [i for i, c in enumerate(changes) if c]
    assert len(writers) == 1 and changes[writers[0]]["done"] == 4, (codes, changes)
    assert codes[writers[0]] == 0, codes
    other = codes[1 - writers[0]]
    assert other in (0, 1), codes
    return "refused" if other == 1 else "after"


def in_threads(argvs: list[list[str]], stagger: float) -> list[int]:
    """The CLI's main, once per argv, each in a thread, released together; the second `stagger`
    seconds later, so rounds cover both a tight race and one run writing while the other reads."""
    from metorial_apply.cli import main

    gate, codes = threading.Barrier(len(argvs)), [-1] * len(argvs)

    def run(i: int) -> None:
        gate.wait()
        time.sleep(stagger * i)
        try:
            main(argvs[i])
        except SystemExit as exc:
            codes[i] = exc.code if isinstance(exc.code, int) else 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(len(argvs))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return codes


def test_two_runs_started_together_never_both_write(tmp_path: Path, server: EmulatorProcess,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """20 rounds of two applies (the CLI's main, each in a thread of this process) of a fresh stack."""
    monkeypatch.setenv("CI", "1")
    outcomes: Counter[str] = Counter()
    for round in range(20):
        path, journals = race_files(tmp_path, f"thread{round}")
        argvs = [["apply", str(path), "--auto-approve", "--lock-settle", "0", "--lock-skew", "0", "--journal", str(j),
                  "--api-url", server.url, "--api-key", SECRET_KEY, "-q"] for j in journals]
        codes = in_threads(argvs, stagger=(round % 5) * 0.03)
        outcomes[assert_one_writer(codes, journals)] += 1
        assert_applied_once(server, f"thread{round}", groups=1)
    assert locks(server) == []
    assert outcomes["refused"] >= 10, outcomes  # they really ran together


@pytest.mark.slow
def test_two_processes_started_together_never_both_write(tmp_path: Path, server: EmulatorProcess) -> None:
    for round in range(4):
        path, journals = race_files(tmp_path, f"proc{round}")
        runs = [start(server, "apply", str(path), "--auto-approve", "--lock-settle", "0", "--journal", str(j))
                for j in journals]
        assert_one_writer([finish(p).code for p in runs], journals)
        assert_applied_once(server, f"proc{round}", groups=1)
    assert locks(server) == []


def test_the_live_read_never_sees_lock_records() -> None:
    lock = {"id": "set_1", "object": "session.template", "name": "metorial-apply lock: prod", "providers": [],
            "metadata": lock_metadata("prod", "run-a", "h", 1, 60, 0), "created_at": "2026-01-01T00:00:00.000Z",
            "updated_at": "2026-01-01T00:00:00.000Z", "status": "active", "description": None}
    read = live_state("prod", Catalog(), {"session_template": [lock]})
    assert len(read.state) == 0 and read.ignored == () and read.objects == 0


@pytest.mark.anyio
async def test_a_lost_create_response_is_found_by_run_id_not_sent_again(live_server: EmulatorThread) -> None:
    live_server.faults(drop_next=1)
    settings = LockSettings(ttl_s=60, settle_s=0, skew_s=0)
    async with open_client(live_server.url, SECRET_KEY) as client, hold_stack_lock(client, "dropped", settings) as held:
        assert live_server.emulator.faults.fired["drop"] == 1
        assert len(held.records) == 1
        assert [o["id"] for o in locks(live_server)] == held.records
    assert locks(live_server) == []


@pytest.mark.anyio
async def test_a_renewal_gap_longer_than_the_ttl_gives_the_lock_up(live_server: EmulatorThread) -> None:
    async with open_client(live_server.url, SECRET_KEY) as client:
        lock = StackLock(client, "slow", LockSettings(ttl_s=30, settle_s=0, skew_s=0))
        await lock.acquire()
        await lock.renew()
        assert lock.stamped is not None
        lock.stamped -= timedelta(seconds=30)  # as if this run had stalled for the whole TTL
        with pytest.raises(LockError, match="went 30 s without renewal"):
            await lock.renew()
        await lock.release()
    assert locks(live_server) == []


@pytest.mark.anyio
async def test_renewals_that_keep_failing_lose_the_lock(live_server: EmulatorThread) -> None:
    async with open_client(live_server.url, SECRET_KEY) as client:
        lock = StackLock(client, "failing", LockSettings(ttl_s=4, settle_s=0, skew_s=0))
        await lock.acquire()
        live_server.faults(error_rate=1.0)  # every request answers 500 from now on
        keeper = asyncio.create_task(lock.keep())
        with anyio.fail_after(20):
            await lock.lost.wait()
        assert lock.reason is not None and "could not renew the lock of stack 'failing'" in lock.reason
        assert keeper.done()
        live_server.faults(error_rate=0.0)
        await lock.release()
    assert locks(live_server) == []
