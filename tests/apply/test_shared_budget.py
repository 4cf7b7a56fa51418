"""Another client spends the same key's budget while we apply: we retry at the resets the server
announces and keep making progress, the apply finishes and the next plan is empty.

The issue's case is `--rate-limit 100/10`, a competitor at ~20 requests/s and 140 resources in
under 4 minutes (measured: 172 s, plan empty). This test runs it scaled to stay within the
suite's time: the same 10 requests/s shared budget as 30/3, the same 20 requests/s competitor,
40 resources. What made the original stall still shows at this scale: our own requests pass
the server's limit (30) within the run, and a client that guessed the published 600 s window
held them for 600 s ("one batch waited 589 s"); with the server believed, it goes on."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from types import TracebackType

import httpx
import pytest

from tests.apply.conftest import run_cli
from tests.apply.test_faults import big_stack, expected_addresses
from tests.emulator_server import SECRET_KEY, EmulatorProcess

GROUPS = 10  # × 4 kinds = 40 resources
# 4 minutes for 140 resources, scaled to 40 (69 s), plus the live read, whose ~15 calls do
# not scale with the stack.
DEADLINE_S = 240 * 40 / 140 + 30


class Competitor:
    """Another client of the same organization: GETs at `per_second` with the same key."""

    def __init__(self, url: str, per_second: float) -> None:
        self.url, self.every_s = url, 1 / per_second
        self.status: Counter[int] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=10) as http:
            due = time.monotonic()
            while not self._stop.is_set():
                self.status[http.get("/providers", params={"limit": 1}).status_code] += 1
                due += self.every_s
                self._stop.wait(max(0.0, due - time.monotonic()))

    def __enter__(self) -> Competitor:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.mark.slow
def test_an_apply_sharing_its_budget_with_a_busy_client_finishes_and_converges(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack(GROUPS, stack="shared"))
    with EmulatorProcess.start(tmp_path / "db.sqlite3", "--rate-limit", "30/3") as server:
        env = {"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY}
        with Competitor(server.url, per_second=20) as other:
            time.sleep(1)  # the competitor has filled the window before we start
            started = time.monotonic()
            # --max-wait: a regression stops at the deadline instead of waiting out the default 15 min
            result = run_cli(["apply", str(path), "--auto-approve", "--max-wait", f"{DEADLINE_S:.0f}"], env=env)
            elapsed = time.monotonic() - started
        assert result.code == 0, result.out[-3000:] + result.err[-3000:]
        assert f"{GROUPS * 4} done, 0 failed, 0 skipped" in result.out
        assert elapsed < DEADLINE_S, (elapsed, result.err[-2000:])
        assert other.status[200] > 0 and other.status[429] > 0  # the budget was really contested
        assert "× 429" in result.out and " 0 × 429" not in result.out  # and we felt it
        active = Counter(o["metadata"]["metorial-apply/address"] for o in server.objects("shared", status="active"))
        assert set(active) == expected_addresses(GROUPS) and max(active.values()) == 1
        plan = run_cli(["plan", str(path), "--detailed-exitcode"], env=env)
        assert plan.code == 0, plan.out[-2000:]
