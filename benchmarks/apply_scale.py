"""Apply at scale against `metorial-apply emulator serve` (started here on a free 127.0.0.1 port).

1. Latency: N resources (default 1,000) with 50 ms server latency. Apply wall time (first to
   last API call of the apply phase, from the journal) against the physical lower bound
   max(critical path × latency, calls × latency / parallelism), and a naive baseline: the same
   apply one change at a time (measured on a sample, scaled to N).
2. Rate limit: the emulator limited to 500 requests per 10 s (50/s) and the client told the
   same (`apply --rate-limit 500/10`): 429s received (target 0) and wall time against
   calls / rate, and against the sliding window's own bound (a slot frees W after its use).

Usage: python benchmarks/apply_scale.py [--resources 1000] [--naive-sample 100] [--skip-rate]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from emulator_process import SECRET_KEY as KEY
from emulator_process import EmulatorProcess, child_env

DEPTH = 3  # deployment → config/auth config → session template


def env() -> dict[str, str]:
    return child_env({"CI": "1", "NO_COLOR": "1"})


def stack(groups: int, name: str) -> str:
    """groups × (deployment, config, auth config, session template)."""
    lines = [f"stack: {name}", "deployments:"] + [f"  d{i}: {{provider: github}}" for i in range(groups)]
    lines += ["configs:"] + [
        f"  c{i}: {{deployment: d{i}, value: {{base_url: 'https://api.github.com'}}}}" for i in range(groups)
    ]
    lines += ["auth_configs:"] + [
        f"  a{i}: {{deployment: d{i}, method: token, value: {{token: 't{i}'}}}}" for i in range(groups)
    ]
    lines += ["session_templates:"]
    lines += [f"  t{i}: {{providers: [{{deployment: d{i}, config: c{i}, auth_config: a{i}}}]}}" for i in range(groups)]
    return "\n".join(lines) + "\n"


def apply(work: Path, url: str, groups: int, name: str, *flags: str) -> dict[str, Any]:
    """Run the real CLI; return apply-phase wall time, calls, and the summary line."""
    path, journal = work / f"{name}.yaml", work / f"{name}.jsonl"
    path.write_text(stack(groups, name))
    cmd = [sys.executable, "-m", "metorial_apply", "apply", str(path), "--auto-approve", "-q",
           "--api-url", url, "--api-key", KEY, "--journal", str(journal), *flags]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"apply failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    lines = [json.loads(x) for x in journal.read_text().splitlines()]
    calls = [x for x in lines if x["event"] == "call"]
    applied = [x for x in calls if x["address"]] or calls
    return {"wall": span(applied), "all_wall": span(calls), "calls": len(applied), "all_calls": len(calls),
            "busy": sum(x["duration_s"] for x in applied),
            "retries": sum(x["retries"] for x in calls), "summary": done.stdout.strip().splitlines()[-1]}


def span(calls: list[dict[str, Any]]) -> float:
    """Seconds from the first call's start to the last call's end (journal ts = end time)."""
    def end(x: dict[str, Any]) -> float:
        return datetime.fromisoformat(x["ts"].replace("Z", "+00:00")).timestamp()

    return max(end(x) for x in calls) - min(end(x) - x["duration_s"] for x in calls)


def latency_case(work: Path, n: int, sample: int, parallelism: int) -> None:
    latency = 0.050
    with EmulatorProcess.start(work / "latency.sqlite3", "--latency-ms", str(latency * 1000)) as server:
        ours = apply(work, server.url, n // 4, "scale", "--parallelism", str(parallelism))
        naive = apply(work, server.url, max(1, sample // 4), "naive", "--parallelism", "1")
    bound = max(DEPTH * latency, ours["calls"] * latency / parallelism)
    naive_scaled = naive["wall"] * ours["calls"] / naive["calls"]
    print(f"== {n} resources, {latency * 1000:.0f} ms latency, parallelism {parallelism}")
    print(f"   {ours['summary']}")
    print(f"   apply phase: {ours['wall']:.2f} s for {ours['calls']} calls; lower bound {bound:.2f} s "
          f"→ {ours['wall'] / bound:.2f}× the bound (target ≤ 1.20×)")
    mean = ours["busy"] / ours["calls"]
    print(
        f"   measured mean call time under load {mean * 1000:.1f} ms "
        f"(server latency {latency * 1000:.0f} ms + processing); "
        f"bound at that call time {ours['busy'] / parallelism:.2f} s → scheduling efficiency "
        f"{ours['busy'] / parallelism / ours['wall']:.0%}"
    )
    print(f"   naive (one change at a time): {naive['wall']:.2f} s for {naive['calls']} calls, "
          f"scaled to {ours['calls']} calls: {naive_scaled:.1f} s → ours is {naive_scaled / ours['wall']:.1f}× faster")


def rate_case(work: Path, n: int, parallelism: int) -> None:
    count, window = 500, 10.0
    with EmulatorProcess.start(work / "rate.sqlite3", "--rate-limit", f"{count}/{int(window)}") as server:
        ours = apply(work, server.url, n // 4, "rated", "--parallelism", str(parallelism),
                     "--rate-limit", f"{count}/{int(window)}")
        stats = server.stats()
    calls, rate = ours["all_calls"], count / window
    window_bound = window * ((calls - 1) // count)  # the last slot frees W after the one it reuses
    print(f"== {n} resources, emulator and client limited to {count}/{window:.0f} s ({rate:.0f} requests/s)")
    print(f"   {ours['summary']}")
    print(f"   429s received: {stats['rate_limited']} (target 0); client retries: {ours['retries']}")
    versus = (f"sliding-window bound {window_bound:.1f} s → {ours['all_wall'] / window_bound:.2f}×" if window_bound
              else f"all {calls} calls fit in one window's budget of {count}")
    print(f"   wall {ours['all_wall']:.2f} s for {calls} calls; calls / rate = {calls / rate:.2f} s "
          f"→ {ours['all_wall'] / (calls / rate):.2f}× (target ≤ 1.10×); {versus}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--naive-sample", type=int, default=100)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--skip-rate", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        latency_case(Path(tmp), args.resources, args.naive_sample, args.parallelism)
        if not args.skip_rate:
            rate_case(Path(tmp), args.resources, args.parallelism)


if __name__ == "__main__":
    main()
