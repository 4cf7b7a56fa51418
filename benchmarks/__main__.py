"""`python -m benchmarks [--quick]`: run every benchmark against `emulator serve` processes and
write docs/benchmarks.md, its plots (docs/benchmarks/*.png) and docs/benchmarks.json.

--quick is a smaller scale for a check in under 3 minutes on 2 cores; the default is the full
scale (1,000 and 10,000 resources end to end). --render-only redraws the page and plots from
docs/benchmarks.json without measuring. Each benchmark that fails is listed on the page as
failed; the others still run. Every child process has a time limit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the benchmarks import each other as scripts do (python benchmarks/x.py)

import adopt_scale  # noqa: E402
import apply_scale  # noqa: E402
import contention  # noqa: E402
import e2e  # noqa: E402
import index_scale  # noqa: E402
import list_live  # noqa: E402
import page  # noqa: E402
import plan_scale  # noqa: E402
import plots  # noqa: E402
import startup  # noqa: E402

DOCS = HERE.parent / "docs"

Bench = Callable[[], dict[str, Any]]


def suite(quick: bool) -> dict[str, Bench]:
    """Each benchmark at the chosen scale, in the order they run."""
    if quick:
        return {
            "startup": lambda: startup.run(runs=7),
            "list_live": lambda: list_live.run(total=1000, latency_ms=20),
            "plan_scale": lambda: plan_scale.run([250, 1000], latency=50, cpu_size=250),
            "apply_scale": lambda: apply_scale.run([100, 250, 500], sample=40, rate_resources=400),
            "contention": lambda: contention.run(n=400),
            "e2e": lambda: e2e.run([1000]),
            "adopt_scale": lambda: adopt_scale.run(total=300),
            "index_scale": lambda: index_scale.run(resources=400, entries=1000, repeats=1, k=4, lock_wait=False),
        }
    return {
        "startup": lambda: startup.run(runs=7),  # first: before the other benchmarks heat the machine
        "list_live": lambda: list_live.run(total=5000, latency_ms=20),
        "plan_scale": lambda: plan_scale.run([1000, 2500, 5000, 10000], latency=50, cpu_size=1000),
        "apply_scale": lambda: apply_scale.run([250, 500, 1000, 2000], sample=100, rate_resources=1000),
        "contention": lambda: contention.run(n=1000),
        "e2e": lambda: e2e.run([1000, 10000], scrypt_sizes=(1000,)),
        "adopt_scale": lambda: adopt_scale.run(total=2000),
        "index_scale": lambda: index_scale.run(resources=10_000, entries=10_000, repeats=5, k=10),
    }


def measure(quick: bool, only: set[str] | None) -> dict[str, Any]:
    results: dict[str, Any] = {"quick": quick}
    started = time.perf_counter()
    for name, bench in suite(quick).items():
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        print(f"running {name} …", file=sys.stderr, flush=True)
        try:
            results[name] = bench() | {"seconds": round(time.perf_counter() - t0, 1)}
        except Exception as exc:  # one failing benchmark must not cost the others' figures
            results[name] = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}
        print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["machine"] = page.machine()
    return results


def write(results: dict[str, Any], docs: Path) -> None:
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "benchmarks.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    names = plots.draw(results, docs / "benchmarks")
    (docs / "benchmarks.md").write_text(page.render(results, names))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="The small scale (under 3 minutes on 2 cores).")
    parser.add_argument("--only", help="Comma-separated benchmarks to run: " + ", ".join(suite(False)))
    parser.add_argument("--docs", type=Path, default=DOCS, help="Where the page, plots and JSON go.")
    parser.add_argument("--note", help="A sentence printed at the top of the page (e.g. machine under load).")
    parser.add_argument("--render-only", action="store_true", help="Redraw from DOCS/benchmarks.json.")
    args = parser.parse_args()
    if args.render_only:
        results = json.loads((args.docs / "benchmarks.json").read_text())
    else:
        results = measure(args.quick, set(args.only.split(",")) if args.only else None)
    if args.note:
        results["note"] = args.note
    write(results, args.docs)
    failed = [k for k, v in results.items() if isinstance(v, dict) and "error" in v]
    print(f"wrote {args.docs / 'benchmarks.md'}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
