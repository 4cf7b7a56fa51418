"""No hang, no blow-up: `plan` through the real CLI, in a child process, against a server that
trickles its body, asks for a 99999 s wait, sends 400 MB, nests JSON 100,000 deep or packs
millions of values into 16 MiB. Each run
exits 1 with a one-line error naming the call and the limit, within its deadline, and the
child's peak memory stays under 200 MB."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.client.childrun import BACKOFF_S, POLICY, STARTUP_S, Run, cli_child, one_error_line
from tests.client.hostile import Behaviour, HostileServer, deep, huge, many_values, rate_limited, trickle

KEY = "metorial_sk_hostile_test_key"
MAX_RSS_BYTES = 200 * 1024 * 1024


def plan_against(url: str, tmp: Path, *flags: str, kill_after_s: float = 60.0) -> Run:
    """`python -m metorial_apply plan` as a child (see childrun.py)."""
    config = tmp / "stack.yaml"
    config.write_text("stack: hostile\ndeployments:\n  gh: {provider: github}\n")
    return cli_child(["plan", str(config), "--api-url", url, *flags], tmp,
                     {"METORIAL_API_KEY": KEY, "CI": "1", "NO_COLOR": "1"}, kill_after_s=kill_after_s)


def serve(behaviour: Behaviour) -> HostileServer:
    return HostileServer(behaviour)


def test_trickling_body_stops_at_the_total_deadline(tmp_path: Path) -> None:
    # One byte every 0.2 s: httpx's per-read timeout (the same 1 s) never fires; only the
    # total deadline around the whole exchange can end it. GETs are retried like any timeout.
    with serve(trickle(every_s=0.2)) as server:
        run = plan_against(server.url, tmp_path, "--timeout", "1")
    line = one_error_line(run)
    assert run.code == 1
    assert line == ("Error: deadline_exceeded: no complete response within the 1 s deadline (--timeout) "
                    f"(each of {POLICY.max_attempts} attempts) (GET /providers)")
    assert server.requests == POLICY.max_attempts
    assert run.seconds < POLICY.max_attempts * 1 + BACKOFF_S + STARTUP_S
    assert run.max_rss < MAX_RSS_BYTES


def test_retry_after_99999_stops_at_the_wait_budget_instead_of_sleeping(tmp_path: Path) -> None:
    with serve(rate_limited("99999")) as server:
        run = plan_against(server.url, tmp_path, "--max-wait", "30")
    line = one_error_line(run)
    assert run.code == 1
    # The hint is believed up to 60 s, which already passes the 30 s budget: stop, say why.
    assert line == ("Error: wait_budget_spent: stopped instead of waiting 60 s more for a rate-limited "
                    "GET /providers to be accepted (429; the server asked for 99999 s, believed up to 60 s): "
                    "the run has waited 0 s of its 30 s budget (--max-wait) (GET /providers)")
    assert server.requests == 1
    assert run.seconds < STARTUP_S
    assert run.max_rss < MAX_RSS_BYTES


def test_a_long_wait_is_announced_every_10_s(tmp_path: Path) -> None:
    # A 10 s hint within a 15 s budget: waited (and said so at once), then the next 10 s
    # would pass the budget.
    with serve(rate_limited("10")) as server:
        run = plan_against(server.url, tmp_path, "--max-wait", "15")
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert run.code == 1 and server.requests == 2
    assert lines[0] == ("Waiting 10 s for a rate-limited GET /providers to be accepted (429; the server asked "
                        "for 10 s, believed up to 60 s); waited 0 s of 15 s (--max-wait).")
    assert lines[1].startswith("Error: wait_budget_spent: stopped instead of waiting 10 s more for a rate-limited")
    assert "the run has waited 10 s of its 15 s budget" in lines[1]
    assert len(lines) == 2
    assert 10 <= run.seconds < 10 + STARTUP_S


@pytest.mark.parametrize("declare", [False, True], ids=["chunked", "content-length"])
def test_400_mb_body_is_cut_off_at_the_cap(tmp_path: Path, declare: bool) -> None:
    with serve(huge(400 * 1024 * 1024, declare=declare)) as server:
        run = plan_against(server.url, tmp_path, "--timeout", "20")
    line = one_error_line(run)
    assert run.code == 1
    assert line == ("Error: 200 response_too_large: the response body is larger than the 16 MiB cap; "
                    "stopped reading it (GET /providers)")
    assert server.requests == 1  # not retried: the same server would send the same body
    assert run.seconds < 20 + STARTUP_S
    assert run.max_rss < MAX_RSS_BYTES


def test_deep_nesting_is_a_clear_error_not_a_recursion_error(tmp_path: Path) -> None:
    with serve(deep(100_000)) as server:  # 200 KB
        run = plan_against(server.url, tmp_path, "--timeout", "5")
    line = one_error_line(run)
    assert run.code == 1
    assert line == ("Error: 200 response_too_deep: the response's JSON nests deeper than 100 levels; not parsed "
                    "(GET /providers)")
    assert "RecursionError" not in run.err
    assert server.requests == 1
    assert run.seconds < 5 + STARTUP_S
    assert run.max_rss < MAX_RSS_BYTES


def test_a_body_within_the_size_cap_but_of_millions_of_values_is_refused_unparsed(tmp_path: Path) -> None:
    # 16 MiB less a byte of `[{},{},…]`: 5.6 million dicts, half a gigabyte once parsed.
    with serve(many_values(16 * 1024 * 1024 - 1)) as server:
        run = plan_against(server.url, tmp_path, "--timeout", "20")
    line = one_error_line(run)
    assert run.code == 1
    assert line == ("Error: 200 response_too_many_values: the response's JSON holds more than 500,000 values; "
                    "not parsed (GET /providers)")
    assert server.requests == 1
    assert run.max_rss < MAX_RSS_BYTES


def test_the_rss_measure_sees_a_big_child() -> None:
    """The memory assertions above mean something: wait4 reports this child's own peak."""
    child = subprocess.Popen([sys.executable, "-c", "b = bytearray(300 * 1024 * 1024)"])
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0
    assert usage.ru_maxrss * 1024 > MAX_RSS_BYTES
