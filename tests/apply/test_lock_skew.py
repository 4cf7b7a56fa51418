"""The stack lock against an API whose servers disagree about the time, and against lists that
lag behind writes (issue 21, item 7 and item 13's settle re-read).

Skew: two `emulator serve` processes share one SQLite file with clocks 2 s apart, and a proxy
sends each request to either at random, so a lock record written later can sort first. Both
clocks are also 30 s behind this machine's: a run that judged expiry by its own clock would
take every record for expired. Scaled from the issue's 5 s to 2 s (`--lock-skew 2`) to keep 20
rounds of concurrent applies near a minute (about 65 s on 2 cores); the rule is the same at any
scale. Without the confirming read, 4 to 5 rounds of 20 duplicated all 8 resources; judging
expiry by this machine's clock, most rounds did."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from metorial_apply.api.client import MetorialClient, open_client
from metorial_apply.apply.lock import StackLock
from metorial_apply.core.lock import LockHeldError, LockSettings
from tests.apply.conftest import Result
from tests.apply.split_proxy import SplitProxy
from tests.apply.test_faults import big_stack, expected_addresses
from tests.apply.test_lock import finish, locks
from tests.emulator_server import SECRET_KEY, EmulatorProcess, EmulatorThread, child_env

OFFSETS_S = (-30.0, -32.0)  # the two servers' clocks: 2 s apart, both behind ours
SKEW_S, SETTLE_S, TTL_S = 2.0, 0.1, 16.0
ROUNDS = 20  # rounds of 2 or 3 concurrent applies, each on a stack of its own
# A round starts every SPACING_S, so the next one starts up (Python's start-up is what costs CPU
# here) while the last waits for the lock: less jitter in when a round's runs write their records.
SPACING_S = 2.5
GROUPS = 2  # 8 resources per stack
# Each call 30 ms and one change at a time: an apply's changes last most of a second, so two
# runs that both proceed (the later one starting a fraction of a second later) both create.
LATENCY_MS = 30
DEADLINE_S = 240.0


@pytest.fixture
def skewed(tmp_path: Path) -> Iterator[tuple[EmulatorProcess, SplitProxy]]:
    """Two servers on one store, clocks OFFSETS_S from ours, behind one proxy."""
    db = tmp_path / "shared.sqlite3"
    flags = ("--latency-ms", str(LATENCY_MS))
    with EmulatorProcess.start(db, "--clock-offset-s", str(OFFSETS_S[0]), *flags) as first, \
            EmulatorProcess.start(db, "--clock-offset-s", str(OFFSETS_S[1]), *flags) as second, \
            SplitProxy([first.url, second.url]) as proxy:
        yield first, proxy


def start_apply(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "metorial_apply", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def race(proxy: SplitProxy, tmp_path: Path, round: int) -> list[Result]:
    """3 applies of a fresh stack (2 in every fourth round), started 0.3 to 0.5 s apart (by
    round): a later run's record is written inside the clock spread, after an earlier run's first
    read, and while that run would still be applying if it had proceeded."""
    path = tmp_path / f"skew{round}.yaml"
    path.write_text(big_stack(GROUPS, stack=f"skew{round}"))
    env = child_env({"CI": "1", "NO_COLOR": "1", "METORIAL_API_URL": proxy.url, "METORIAL_API_KEY": SECRET_KEY})
    argv = ["apply", str(path), "--auto-approve", "--parallelism", "1", "--lock-timeout", "90",
            "--lock-ttl", f"{TTL_S:g}", "--lock-settle", f"{SETTLE_S:g}", "--lock-skew", f"{SKEW_S:g}"]
    runs = []
    for _ in range(2 if round % 4 == 0 else 3):
        runs.append(start_apply(argv, env))
        time.sleep(0.3 + 0.1 * (round % 3))
    return [finish(p, timeout=DEADLINE_S) for p in runs]


def duplicates(server: EmulatorProcess, stack: str) -> dict[str, int]:
    """(kind, name) → count, for every name the stack's live objects carry more than once."""
    counts = Counter(f"{o['kind']}.{o['name']}" for o in server.objects(stack, status="active"))
    return {name: n for name, n in counts.items() if n > 1}


@pytest.mark.slow
def test_concurrent_applies_through_servers_whose_clocks_differ_never_duplicate(
        tmp_path: Path, skewed: tuple[EmulatorProcess, SplitProxy]) -> None:
    server, proxy = skewed
    started = time.monotonic()

    def at_its_time(round: int) -> list[Result]:
        time.sleep(max(0.0, started + round * SPACING_S - time.monotonic()))
        return race(proxy, tmp_path, round)

    with ThreadPoolExecutor(8) as pool:  # enough that every round starts on time: each lasts 10-20 s
        rounds = list(pool.map(at_its_time, range(ROUNDS)))
    elapsed = time.monotonic() - started
    found = {r: d for r in range(ROUNDS) if (d := duplicates(server, f"skew{r}"))}
    assert found == {}, f"duplicates in {len(found)} of {ROUNDS} rounds: {found}"
    for r, results in enumerate(rounds):
        assert [x.code for x in results] == [0] * len(results), [x.err[-1500:] for x in results]
        addresses = Counter(o["metadata"]["metorial-apply/address"] for o in server.objects(f"skew{r}", "active"))
        assert set(addresses) == expected_addresses(GROUPS) and max(addresses.values()) == 1
        assert sum("No changes." in x.out for x in results) == len(results) - 1, [x.out for x in results]
    assert locks(server) == [] and min(proxy.sent.values()) > 0.4 * sum(proxy.sent.values())
    assert elapsed < DEADLINE_S, elapsed


LAG_ROUNDS = 16  # pairs of runs, each pair on a stack of its own, all at once


async def contend(client: MetorialClient, stack: str, settings: LockSettings) -> list[bool]:
    """Two runs take `stack`'s lock 50 ms apart, giving up at once if it is held: which proceeded."""
    locks = [StackLock(client, stack, settings) for _ in range(2)]

    async def take(lock: StackLock, delay: float) -> bool:
        await asyncio.sleep(delay)
        try:
            await lock.acquire()
            return True
        except LockHeldError:
            return False

    try:
        return list(await asyncio.gather(take(locks[0], 0), take(locks[1], 0.05)))
    finally:
        for lock in locks:
            await lock.release()


async def proceeded(server: EmulatorThread, settings: LockSettings, **lag: float) -> list[list[bool]]:
    server.faults(**lag)
    try:
        async with open_client(server.url, SECRET_KEY) as client:
            return list(await asyncio.gather(*(contend(client, f"lag{r}", settings) for r in range(LAG_ROUNDS))))
    finally:
        server.faults(list_lag_ms=0, list_lag_jitter_ms=0)


@pytest.mark.anyio
async def test_a_list_that_misses_our_own_record_is_read_again(live_server: EmulatorThread) -> None:
    """Every object stays out of lists for 500 ms, and the runs assume lists never lag (settle 0,
    as with one server): the first read shows no record at all, not even the run's own. It is
    read again until it does; then it shows every older record too (this lag keeps creation
    order), and exactly one run of each pair proceeds."""
    settings = LockSettings(ttl_s=8, settle_s=0, skew_s=0, timeout_s=0)
    outcomes = await proceeded(live_server, settings, list_lag_ms=500)
    assert [sum(pair) for pair in outcomes] == [1] * LAG_ROUNDS, outcomes
    assert locks(live_server) == []


@pytest.mark.anyio
async def test_the_settle_delay_covers_lists_that_lag_out_of_order(live_server: EmulatorThread) -> None:
    """Each object stays out of lists for its own share of 800 ms, so a list can show a run's own
    record and miss an older one. A settle delay of 800 ms covers that (the first read comes that
    late, and a run proceeds only on a read at least that long after its write, the skew being
    0 here): exactly one run of each pair proceeds."""
    settings = LockSettings(ttl_s=8, settle_s=0.8, skew_s=0, timeout_s=0)
    outcomes = await proceeded(live_server, settings, list_lag_jitter_ms=800)
    assert [sum(pair) for pair in outcomes] == [1] * LAG_ROUNDS, outcomes
    assert locks(live_server) == []
