"""End to end, as the user runs it: `validate`, `plan` with all creates, `apply`, and `plan`
with no changes (keyed fingerprints, then the default scrypt ones), each a child
`python -m metorial_apply …` against `emulator serve` at 50 ms latency; wall time and peak RSS.

Half the resources carry a secret. Seeding is the CLI's own `apply` at zero latency (it is
not what is measured). Goal on 2 cores: a no-change plan of 10,000 resources with keyed
fingerprints in ≤ 8 s wall and ≤ 250 MiB peak RSS.

Run: python benchmarks/e2e.py [--sizes 1000,10000] [--latency-ms 50] [--scrypt-sizes 1000]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path
from typing import Any

from cli_runs import BENCH_KEY, CliRun, run_cli, write_stack
from emulator_process import EmulatorProcess

GOAL_PLAN_S, GOAL_RSS_MIB = 8.0, 250.0
UNLIMITED = ("--rate-limit", "100000000/600")


def figures(run: CliRun) -> dict[str, Any]:
    phases = re.search(r"^Time: (.*); total", run.err, re.M)
    laps = {k: float(v) for k, v in re.findall(r"([a-z ]+) ([0-9.]+) s", phases.group(1))} if phases else {}
    return {"wall_s": round(run.wall_s, 3), "max_rss_mib": round(run.max_rss_mib, 1),
            "phases_s": {k.strip(): v for k, v in laps.items()}}


def plan(path: Path, server: EmulatorProcess, key: str | None, *codes: int) -> dict[str, Any]:
    run = run_cli(["plan", str(path), "--api-url", server.url, "--stats", "--detailed-exitcode"],
                  path.parent, key=key).check(*codes)
    return figures(run)


def apply(path: Path, server: EmulatorProcess, key: str | None) -> dict[str, Any]:
    run = run_cli(["-q", "apply", str(path), "--api-url", server.url, "--auto-approve",
                   "--rate-limit", UNLIMITED[1]], path.parent, key=key, timeout_s=1800).check()
    return figures(run)


def one_size(work: Path, n: int, latency_ms: float, scrypt: bool) -> dict[str, Any]:
    """Every figure at `n` resources; two emulators (keyed stamps, scrypt stamps)."""
    out: dict[str, Any] = {"resources": n}
    path = write_stack(work, n, f"e2e{n}")
    out["validate"] = figures(run_cli(["validate", str(path)], work).check())
    modes = [("keyed", BENCH_KEY)] + ([("scrypt", None)] if scrypt else [])
    for mode, key in modes:
        with EmulatorProcess.start(work / f"{mode}{n}.sqlite3", "--latency-ms", str(latency_ms), *UNLIMITED) as server:
            if mode == "keyed":
                out["plan_creates"] = plan(path, server, key, 2)
            server.faults(latency_ms=0)  # seeding is not measured
            out[f"seed_apply_{mode}"] = apply(path, server, key)
            server.faults(latency_ms=latency_ms)
            out[f"plan_nochange_{mode}"] = plan(path, server, key, 0)
    return out


def run(sizes: list[int], latency_ms: float = 50.0, scrypt_sizes: tuple[int, ...] = ()) -> dict[str, Any]:
    """The end-to-end figures at each size, as a result dict; the default (scrypt) fingerprints'
    figures too at `scrypt_sizes` (seeding them costs a scrypt per secret)."""
    with tempfile.TemporaryDirectory() as tmp:
        rows = [one_size(Path(tmp), n, latency_ms, n in scrypt_sizes) for n in sizes]
    return {"latency_ms": latency_ms, "goal_plan_s": GOAL_PLAN_S, "goal_rss_mib": GOAL_RSS_MIB, "sizes": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--scrypt-sizes", default="1000", help="Sizes that also get the default (scrypt) figures.")
    args = parser.parse_args()
    scrypt = tuple(int(x) for x in args.scrypt_sizes.split(",") if x)
    result = run([int(x) for x in args.sizes.split(",")], args.latency_ms, scrypt)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
