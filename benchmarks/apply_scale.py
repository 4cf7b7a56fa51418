"""Apply at scale against `metorial-apply emulator serve` (started here on a free 127.0.0.1 port).

1. Latency: N resources (default 1,000) with 50 ms server latency. Apply wall time (first to
   last API call of the apply phase, from the journal) against the physical lower bound
   max(critical path × latency, calls × latency / parallelism), and a naive baseline: the same
   apply one change at a time (measured on a sample, scaled to N).
2. Rate limit: the emulator limited to 500 requests per 10 s (50/s) and the client told the
   same (`apply --rate-limit 500/10`): 429s received (target 0) and wall time against
   calls / rate, and against the sliding window's own bound (a slot frees W after its use).

Usage: python benchmarks/apply_scale.py [--sizes 250,500,1000] [--naive-sample 100] [--skip-rate]
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

from cli_runs import BENCH_KEY, stack_yaml
from emulator_process import SECRET_KEY as KEY
from emulator_process import EmulatorProcess, child_env

DEPTH = 3  # deployment → config/auth config → session template


def env() -> dict[str, str]:
    # Keyed fingerprints: what is measured is scheduling and the rate limit, not scrypt (whose
    # lowest-priority threads starve on a busy machine and would hold creates back).
    return child_env({"CI": "1", "NO_COLOR": "1", "METORIAL_APPLY_FINGERPRINT_KEY": BENCH_KEY})


def apply(work: Path, url: str, groups: int, name: str, *flags: str) -> dict[str, Any]:
    """Run the real CLI; return apply-phase wall time, calls, and the summary line."""
    path, journal = work / f"{name}.yaml", work / f"{name}.jsonl"
    path.write_text(stack_yaml(groups, name))
    cmd = [sys.executable, "-m", "metorial_apply", "apply", str(path), "--auto-approve", "-q",
           "--api-url", url, "--api-key", KEY, "--journal", str(journal), *flags]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"apply failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    lines = [json.loads(x) for x in journal.read_text().splitlines()]
    calls = [x for x in lines if x["event"] == "call"]
    applied = [x for x in calls if x["address"]] or calls
    return {"wall": span(applied), "all_wall": span(calls), "calls": len(applied), "all_calls": len(calls),
            "busy": sum(x["duration_s"] for x in applied), "ends": call_ends(calls),
            "retries": sum(x["retries"] for x in calls), "summary": done.stdout.strip().splitlines()[-1]}


def call_ends(calls: list[dict[str, Any]]) -> list[float]:
    """Each call's end, in seconds since the first call started (journal ts = end time)."""
    ends = sorted(end_time(x) for x in calls)
    first = min(end_time(x) - x["duration_s"] for x in calls)
    return [round(t - first, 3) for t in ends]


def end_time(call: dict[str, Any]) -> float:
    return datetime.fromisoformat(call["ts"].replace("Z", "+00:00")).timestamp()


def span(calls: list[dict[str, Any]]) -> float:
    """Seconds from the first call's start to the last call's end (journal ts = end time)."""
    return max(end_time(x) for x in calls) - min(end_time(x) - x["duration_s"] for x in calls)


def latency_case(work: Path, sizes: list[int], sample: int, parallelism: int) -> dict[str, Any]:
    """Apply at each size with 50 ms latency (a fresh emulator each), and the naive baseline once."""
    latency, rows = 0.050, []
    for n in sizes:
        with EmulatorProcess.start(work / f"latency{n}.sqlite3", "--latency-ms", str(latency * 1000)) as server:
            ours = apply(work, server.url, max(1, n // 4), f"scale{n}", "--parallelism", str(parallelism))
        bound = max(DEPTH * latency, ours["calls"] * latency / parallelism)
        rows.append({"resources": n, "wall_s": ours["wall"], "calls": ours["calls"], "bound_s": bound,
                     "mean_call_s": ours["busy"] / ours["calls"], "busy_bound_s": ours["busy"] / parallelism,
                     "summary": ours["summary"]})
    with EmulatorProcess.start(work / "naive.sqlite3", "--latency-ms", str(latency * 1000)) as server:
        naive = apply(work, server.url, max(1, sample // 4), "naive", "--parallelism", "1")
    return {"latency_ms": latency * 1000, "parallelism": parallelism, "sizes": rows,
            "naive": {"resources": sample, "wall_s": naive["wall"], "calls": naive["calls"]}}


def rate_case(work: Path, n: int, parallelism: int, count: int = 500, window: float = 10.0) -> dict[str, Any]:
    """Emulator and client both limited to count/window: 429s, and wall time against calls / rate."""
    limit = f"{count}/{int(window)}"
    with EmulatorProcess.start(work / "rate.sqlite3", "--rate-limit", limit) as server:
        ours = apply(work, server.url, n // 4, "rated", "--parallelism", str(parallelism), "--rate-limit", limit)
        stats = server.stats()
    calls = ours["all_calls"]
    return {"resources": n, "count": count, "window_s": window, "calls": calls, "wall_s": ours["all_wall"],
            "ideal_s": calls / (count / window), "window_bound_s": window * ((calls - 1) // count),
            "rate_limited": stats["rate_limited"], "retries": ours["retries"], "ends": ours["ends"],
            "summary": ours["summary"]}


def show_latency(r: dict[str, Any]) -> None:
    naive = r["naive"]
    for row in r["sizes"]:
        naive_scaled = naive["wall_s"] * row["calls"] / naive["calls"]
        print(f"== {row['resources']} resources, {r['latency_ms']:.0f} ms latency, parallelism {r['parallelism']}")
        print(f"   {row['summary']}")
        print(f"   apply phase: {row['wall_s']:.2f} s for {row['calls']} calls; lower bound {row['bound_s']:.2f} s "
              f"→ {row['wall_s'] / row['bound_s']:.2f}× the bound (target ≤ 1.20×)")
        print(f"   mean call time under load {row['mean_call_s'] * 1000:.1f} ms; bound at that call time "
              f"{row['busy_bound_s']:.2f} s → scheduling efficiency {row['busy_bound_s'] / row['wall_s']:.0%}")
        print(f"   naive (one change at a time), scaled to {row['calls']} calls: {naive_scaled:.1f} s "
              f"→ ours is {naive_scaled / row['wall_s']:.1f}× faster")


def show_rate(r: dict[str, Any]) -> None:
    print(f"== {r['resources']} resources, emulator and client limited to {r['count']}/{r['window_s']:.0f} s")
    print(f"   {r['summary']}")
    print(f"   429s received: {r['rate_limited']} (target 0); client retries: {r['retries']}")
    print(f"   wall {r['wall_s']:.2f} s for {r['calls']} calls; calls / rate = {r['ideal_s']:.2f} s "
          f"→ {r['wall_s'] / r['ideal_s']:.2f}× (target ≤ 1.10×)")


def run(sizes: list[int], sample: int = 100, parallelism: int = 8, rate_resources: int | None = 1000) -> dict[str, Any]:
    """Apply wall time against N (and the naive baseline), then the rate-limited case."""
    with tempfile.TemporaryDirectory() as tmp:
        out = {"latency": latency_case(Path(tmp), sizes, sample, parallelism)}
        if rate_resources:
            out["rate"] = rate_case(Path(tmp), rate_resources, parallelism)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000")
    parser.add_argument("--naive-sample", type=int, default=100)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--rate-resources", type=int, default=1000)
    parser.add_argument("--skip-rate", action="store_true")
    args = parser.parse_args()
    result = run([int(x) for x in args.sizes.split(",")], args.naive_sample, args.parallelism,
                 None if args.skip_rate else args.rate_resources)
    show_latency(result["latency"])
    if "rate" in result:
        show_rate(result["rate"])


if __name__ == "__main__":
    main()
