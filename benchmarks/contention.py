"""A shared budget: another client of the organization spends about half the rate-limit window
while we apply N resources with `--rate-limit 40%/W` against `emulator serve --rate-limit C/W`.

Figures (one run): 429s we received against our calls (goal ≤ 1 %); our wall time against our
calls / our share of the rate (goal ≤ 1.15×); the other client's 429s with us against its 429s
alone during the window before we start (goal: no more). The other client paces plain GETs at
half the organization's rate and records each response's RateLimit-Remaining, which gives the
remaining budget over time for the plot.

Run: python benchmarks/contention.py [--resources 1000] [--count 1000] [--window 10] [--share 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from apply_scale import call_ends, end_time, env, span
from cli_runs import stack_yaml
from emulator_process import SECRET_KEY, EmulatorProcess

OTHER_SHARE = 0.5  # of the organization's rate, spent by the other client
DEADLINE_S = 600.0


@dataclass
class Other:
    """The other client: paced GETs, each (seconds since t0, status, RateLimit-Remaining)."""

    url: str
    rate: float  # requests per second
    t0: float = field(default_factory=time.time)
    log: list[tuple[float, int, int | None]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {SECRET_KEY}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30) as http:
            sent, tasks = 0, set()
            while not self.stop.is_set():
                due = self.t0 + sent / self.rate
                await asyncio.sleep(max(0.0, due - time.time()))
                task = asyncio.create_task(self.one(http))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.gather(*tasks)

    async def one(self, http: httpx.AsyncClient) -> None:
        response = await http.get("/provider-deployments", params={"limit": 1})
        remaining = response.headers.get("ratelimit-remaining")
        self.log.append((time.time() - self.t0, response.status_code, int(remaining) if remaining else None))

    def rejected(self, start: float, end: float) -> tuple[int, int]:
        """(requests, 429s) answered between start and end (seconds since t0)."""
        window = [status for t, status, _ in self.log if start <= t < end]
        return len(window), sum(1 for s in window if s == 429)


async def apply_beside(work: Path, server: EmulatorProcess, n: int, share: float, window: float,
                       parallelism: int) -> dict[str, Any]:
    path, journal = work / "shared.yaml", work / "shared.jsonl"
    path.write_text(stack_yaml(max(1, n // 4), "shared"))
    cmd = [sys.executable, "-m", "metorial_apply", "-q", "apply", str(path), "--auto-approve", "--api-url",
           server.url, "--api-key", SECRET_KEY, "--journal", str(journal), "--parallelism", str(parallelism),
           "--rate-limit", f"{share * 100:g}%/{window:g}"]
    child = await asyncio.create_subprocess_exec(*cmd, env=env(), stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(child.communicate(), DEADLINE_S)
    if child.returncode != 0:
        raise RuntimeError(f"apply failed ({child.returncode}):\n{out.decode()[-1500:]}\n{err.decode()[-1500:]}")
    calls = [x for x in map(json.loads, journal.read_text().splitlines()) if x["event"] == "call"]
    return {"calls": len(calls), "wall_s": span(calls), "retries": sum(x["retries"] for x in calls),
            "first_start": min(end_time(x) - x["duration_s"] for x in calls), "ends": call_ends(calls)}


async def measure(server: EmulatorProcess, n: int, count: int, window: float, share: float,
                  parallelism: int) -> dict[str, Any]:
    other = Other(server.url, OTHER_SHARE * count / window)
    runner = asyncio.create_task(other.run())
    await asyncio.sleep(window)  # the other client alone for one whole window
    before, before_t = server.stats()["rate_limited"], time.time() - other.t0
    with tempfile.TemporaryDirectory() as tmp:
        ours = await apply_beside(Path(tmp), server, n, share, window, parallelism)
    after, after_t = server.stats()["rate_limited"], time.time() - other.t0
    other.stop.set()
    await runner
    start = ours["first_start"] - other.t0
    alone, together = other.rejected(0.0, window), other.rejected(start, start + ours["wall_s"])
    # The server counts every 429; the other client's between the two reads are not ours.
    mine_429 = after - before - other.rejected(before_t, after_t)[1]
    ideal = ours["calls"] / (share * count / window)
    return {"resources": n, "count": count, "window_s": window, "share": share, "other_share": OTHER_SHARE,
            "calls": ours["calls"], "wall_s": ours["wall_s"], "ideal_s": ideal, "ours_429": mine_429,
            "retries": ours["retries"], "other_alone": {"requests": alone[0], "rate_limited": alone[1]},
            "other_with_us": {"requests": together[0], "rate_limited": together[1]},
            "ours_start_s": start, "ours_ends": [round(start + t, 3) for t in ours["ends"]],
            "other_log": [(round(t, 3), s, r) for t, s, r in sorted(other.log)]}


def run(n: int = 1000, count: int = 1000, window: float = 10.0, share: float = 0.4,
        parallelism: int = 8) -> dict[str, Any]:
    with (tempfile.TemporaryDirectory() as tmp,
          EmulatorProcess.start(Path(tmp) / "shared.sqlite3", "--rate-limit", f"{count}/{window:g}") as server):
        return asyncio.run(measure(server, n, count, window, share, parallelism))


def show(r: dict[str, Any]) -> None:
    print(f"== {r['resources']} resources at {r['share']:.0%} of {r['count']}/{r['window_s']:g} s; "
          f"another client spends {r['other_share']:.0%}")
    print(f"   our 429s: {r['ours_429']} of {r['calls']} calls ({r['ours_429'] / r['calls']:.2%}; goal ≤ 1 %)")
    print(f"   wall {r['wall_s']:.2f} s; our calls / our share of the rate {r['ideal_s']:.2f} s "
          f"→ {r['wall_s'] / r['ideal_s']:.2f}× (goal ≤ 1.15×)")
    print(f"   other client's 429s: alone {r['other_alone']['rate_limited']} of {r['other_alone']['requests']}, "
          f"with us {r['other_with_us']['rate_limited']} of {r['other_with_us']['requests']} (goal: no more)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--share", type=float, default=40.0, help="Percent of the organization's rate for us.")
    args = parser.parse_args()
    show(run(args.resources, args.count, args.window, args.share / 100))


if __name__ == "__main__":
    main()
