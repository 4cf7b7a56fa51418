"""Benchmark: adopting an organization made by hand — `export`, then the first `plan` (only
imports) and the `apply` that stamps every object — as the user runs them: child
`python -m metorial_apply …` processes against `emulator serve` at 20 ms latency.

Keyed fingerprints (METORIAL_APPLY_FINGERPRINT_KEY), the fast mode for large stacks: the
default scrypt stamps cost CPU per secret by design (see plan_scale). `total` unmanaged
objects (deployments, configs and auth configs with write-only values, session templates) are
made straight through the API, without a stamp. Printed as ratios measured in
this run:

- apply writes vs the minimum (one PATCH per object: stamp and fields in one call);
- apply wall vs the lower bound: the live read (a kind's pages are sequential, kinds in
  parallel) plus ceil(objects / parallelism) write round trips (not counted: Python's start,
  the catalog read, and the stack lock's 1 s settle);
- a naive baseline: what a script adopting by hand does, one GET and one PATCH per object in
  turn, measured on the same objects after our apply.

Run: `python benchmarks/adopt_scale.py [--total 1000] [--latency-ms 20]`. Aborts after 600 s.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from cli_runs import BENCH_KEY, run_cli
from emulator_process import SECRET_KEY, EmulatorProcess

DEADLINE_S = 600.0
PARALLELISM = 8  # the CLI's default --parallelism
UNLIMITED = ("--rate-limit", "100000000/600")
SHARES = {"deployment": 0.4, "config": 0.2, "auth_config": 0.2, "session_template": 0.2}
PATHS = {"deployment": "/provider-deployments", "config": "/provider-configs",
         "auth_config": "/provider-auth-configs", "session_template": "/session-templates"}


def bodies(total: int) -> list[tuple[str, dict[str, Any]]]:
    """(kind, create body) for `total` objects; names as a dashboard user writes them."""
    counts = {kind: int(total * share) for kind, share in SHARES.items()}
    counts["deployment"] += total - sum(counts.values())
    make = {
        "deployment": lambda i: {"provider_id": "github", "name": f"GitHub {i}", "metadata": {"team": "a"}},
        "config": lambda i: {"provider_id": "github", "name": f"config {i}", "value": {"base_url": f"https://g{i}"}},
        "auth_config": lambda i: {"provider_auth_method_id": "token", "name": f"token {i}",
                                  "value": {"token": f"t-{i}"}},
        "session_template": lambda i: {"name": f"template {i}", "description": f"made by hand {i}"},
    }
    return [(kind, make[kind](i)) for kind, n in counts.items() for i in range(n)]


def seed(url: str, total: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """Make the objects; id → (kind, the body it was made with: the env values of its secrets)."""
    made: dict[str, tuple[str, dict[str, Any]]] = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=30) as http:
        for kind, body in bodies(total):
            response = http.post(PATHS[kind], json=body)
            response.raise_for_status()
            made[response.json()["id"]] = (kind, body)
    return made


def env_for(out: Path, made: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, str]:
    """Each `.env.example` variable set from the body its object was made with."""
    doc_ids = {}
    for line in (out / "stack.yaml").read_text(encoding="utf-8").splitlines():
        if line.startswith("  - {to: "):
            to, id = line.removeprefix("  - {to: ").removesuffix("}").split(", id: ")
            doc_ids[to] = id
    lines = (out / ".env.example").read_text(encoding="utf-8").splitlines()
    env = {}
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            address, field = lines[i - 1].removeprefix("# ").split(" ")
            value: Any = made[doc_ids[address]][1]
            for part in field.split("."):
                value = value[part]
            env[line.removesuffix("=")] = value
    return env


def writes(server: EmulatorProcess) -> dict[str, int]:
    calls = server.stats()["calls"]
    return {verb: sum(n for k, n in calls.items() if k.startswith(verb + " ")) for verb in ("POST", "PATCH", "DELETE")}


def naive_adopt(url: str, ids: list[str], kinds: dict[str, str]) -> float:
    """One GET and one PATCH (metadata) per object, in turn: a hand-written adoption script."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=30) as http:
        started = time.perf_counter()
        for id in ids:
            path = f"{PATHS[kinds[id]]}/{id}"
            metadata = http.get(path).json().get("metadata") or {}
            http.patch(path, json={"metadata": metadata | {"adopted-by": "script"}}).raise_for_status()
        return time.perf_counter() - started


def measure(total: int, latency_ms: float, work: Path, server: EmulatorProcess) -> dict[str, Any]:
    made = seed(server.url, total)
    kinds = {id: kind for id, (kind, _) in made.items()}
    server.faults(latency_ms=latency_ms)
    out = work / "adopted"
    api = ["--api-url", server.url]
    exported = run_cli(["export", "--out", str(out), "--as-stack", "adopted", *api], work).check()
    env = env_for(out, made)
    planned = run_cli(["plan", str(out), "--json", *api], work, env=env, key=BENCH_KEY).check()
    actions = {c["action"] for c in json.loads(planned.out)["changes"]}
    before = writes(server)
    applied = run_cli(["-q", "apply", str(out), "--auto-approve", "--rate-limit", UNLIMITED[1], *api],
                      work, timeout_s=DEADLINE_S, env=env, key=BENCH_KEY).check()
    after = writes(server)
    again = run_cli(["plan", str(out), "--detailed-exitcode", *api], work, env=env, key=BENCH_KEY).check(0)
    naive_ids = sorted(made)[: min(len(made), 200)]  # enough round trips for a per-object cost
    naive_s = naive_adopt(server.url, naive_ids, kinds) * len(made) / len(naive_ids)
    per_kind = {k: sum(1 for v in kinds.values() if v == k) for k in PATHS}
    read_bound = max(math.ceil(n / 100) for n in per_kind.values()) * latency_ms / 1000
    bound_s = read_bound + math.ceil(len(made) / PARALLELISM) * latency_ms / 1000
    return {"objects": len(made), "latency_ms": latency_ms, "plan_actions": sorted(actions),
            "export_s": exported.wall_s, "plan_s": planned.wall_s, "apply_s": applied.wall_s,
            "replan_s": again.wall_s, "apply_rss_mib": applied.max_rss_mib,
            "writes": {k: after[k] - before[k] for k in after}, "bound_s": bound_s, "naive_s": naive_s}


def run(total: int = 1000, latency_ms: float = 20.0) -> dict[str, Any]:
    """Start an emulator, measure, stop it."""
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess.start(Path(tmp) / "adopt.sqlite3", *UNLIMITED) as srv:
        return measure(total, latency_ms, Path(tmp), srv)


def show(r: dict[str, Any]) -> None:
    w = r["writes"]
    print(f"{r['objects']} hand-made objects at {r['latency_ms']:.0f} ms latency; first plan's actions: "
          f"{', '.join(r['plan_actions'])}")
    print(f"export {r['export_s']:.2f}s, plan {r['plan_s']:.2f}s, re-plan after apply {r['replan_s']:.2f}s")
    print(f"writes: PATCH {w['PATCH']} POST {w['POST']} DELETE {w['DELETE']} vs minimum {r['objects']} PATCH "
          f"→ {(w['PATCH'] + w['POST'] + w['DELETE']) / r['objects']:.2f}×")
    print(f"apply:  ours {r['apply_s']:.2f}s vs lower bound {r['bound_s']:.2f}s → {r['apply_s'] / r['bound_s']:.2f}×"
          f"   (naive GET+PATCH script {r['naive_s']:.2f}s → {r['naive_s'] / r['bound_s']:.2f}×; "
          f"ours is {r['naive_s'] / r['apply_s']:.1f}× faster); peak RSS {r['apply_rss_mib']:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    try:
        show(run(args.total, args.latency_ms))
    except RuntimeError as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
