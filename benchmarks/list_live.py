"""Benchmark: listing every managed kind (what `plan` does to read live state).

Starts `metorial-apply emulator serve` on a free 127.0.0.1 port with 20 ms latency, seeds
5,000 resources over the managed kinds (latency lifted while seeding), then lists them all
through MetorialClient and prints, as ratios measured in this run:

- API calls made vs the minimum Σ max(1, ceil(n_kind / 100)); reading each kind from both ends
  (api/ends.py) may cost one more per kind of several pages (two when its walks' last ids turn out
  to be neighbours);
- the longest chain of pages that waited for one another, vs ceil(largest kind / 200);
- wall time vs the lower bound when each kind is read from both ends: a chain's pages are
  sequential (each cursor comes from the previous page) and kinds run in parallel, so
  ceil(largest kind / 200) × latency; printed beside the old floor of one walk from the start,
  max over kinds of pages × latency, and that one-walk read (today's before issue 24) measured
  in the same run;
- a naive baseline: one kind after another, sequential pages at the default page size (20).

Run: `python benchmarks/list_live.py [--total 5000] [--latency-ms 20]`. Aborts after 300 s.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from emulator_process import SECRET_KEY, EmulatorProcess  # first: it puts this checkout on sys.path

from metorial_apply.api.catalog import fetch_catalog
from metorial_apply.api.client import MetorialClient, open_client
from metorial_apply.api.ratelimit import RateLimitSettings
from metorial_apply.core.kinds import METORIAL_KINDS

DEADLINE_S = 300.0
REPEATS = 3
# Share of the seeded resources per kind (sums to 1).
SHARES = {"deployment": 0.30, "config": 0.20, "config_vault": 0.10, "auth_credentials": 0.06,
          "auth_config": 0.14, "session_template": 0.20}
# The benchmark measures listing, not rate limiting: give the emulator (and us) ample budget.
BUDGET = RateLimitSettings(count=1_000_000, window_s=600)


def seed_bodies(total: int, methods: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """(kind, create body) for `total` resources, all on the github provider."""
    counts = {kind: int(total * share) for kind, share in SHARES.items()}
    counts["deployment"] += total - sum(counts.values())
    make = {
        "deployment": lambda i: {"provider_id": "github", "name": f"bench-{i}"},
        "config": lambda i: {"provider_id": "github", "name": f"bench-{i}", "value": {"base_url": f"https://gh{i}"}},
        "config_vault": lambda i: {"provider_id": "github", "name": f"bench-{i}", "value": {}},
        "auth_credentials": lambda i: {
            "provider_id": "github",
            "name": f"bench-{i}",
            "config": {"type": "oauth", "client_id": f"c{i}", "client_secret": "s", "scopes": []},
        },
        "auth_config": lambda i: {
            "provider_auth_method_id": methods["token"],
            "name": f"bench-{i}",
            "value": {"token": "t"},
        },
        "session_template": lambda i: {"name": f"bench-{i}"},
    }
    return [(kind, make[kind](i) | {"metadata": {"bench": "1"}}) for kind, n in counts.items() for i in range(n)]


async def seed(base: str, total: int) -> None:
    async with open_client(base, SECRET_KEY, rate_limit=BUDGET, max_concurrency=32) as client:
        github = (await fetch_catalog(client, detail_for={"github"})).find("github")
        assert github is not None
        bodies = seed_bodies(total, github.auth_methods)
        await asyncio.gather(*(client.create(METORIAL_KINDS[k].path, body, kind=k, name=body["name"], stamp={})
                               for k, body in bodies))


async def list_ours(base: str, ends: bool = True) -> tuple[float, MetorialClient, dict[str, int]]:
    """Every kind at once, each from both ends (`ends`, as a plan's live read) or from the start alone."""
    async with open_client(base, SECRET_KEY, rate_limit=BUDGET) as client:
        started = time.perf_counter()
        listed = await client.list_many({k.path: k.kind for k in METORIAL_KINDS.values()}, ends=ends)
        elapsed = time.perf_counter() - started
    return elapsed, client, {KINDS_BY_PATH[p]: len(items) for p, items in listed.items()}


async def list_naive(base: str) -> tuple[float, int]:
    """One kind after another, pages of the default size, one request at a time."""
    calls = 0
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=30) as http:
        started = time.perf_counter()
        for kind in METORIAL_KINDS.values():
            after: str | None = None
            while True:
                body = (await http.get(kind.path, params={"after": after} if after else None)).json()
                calls += 1
                if not body["items"] or not body["pagination"]["has_more_after"]:
                    break
                after = body["items"][-1]["id"]
        return time.perf_counter() - started, calls


KINDS_BY_PATH = {k.path: k.kind for k in METORIAL_KINDS.values()}


async def page_service_time(base: str, samples: int = 20) -> float:
    """Median server time for one full page (100 objects) at zero latency: the emulator's own cost."""
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=30) as http:
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            (await http.get(METORIAL_KINDS["deployment"].path, params={"limit": 100})).raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


async def measure(total: int, latency_ms: float, server: EmulatorProcess) -> dict[str, Any]:
    """Seed `total` resources, then list them ours (both ends), one walk from the start and the
    naive way, alternating runs (another process may share the machine); the figures as a dict."""
    base = server.url
    server.faults(latency_ms=0)  # seed at full speed; measure at `latency_ms`
    started = time.perf_counter()
    await seed(base, total)
    seeded_s = time.perf_counter() - started
    service_s = await page_service_time(base)
    server.faults(latency_ms=latency_ms)
    ours, one_way = [], []
    for _ in range(REPEATS):
        ours.append(await list_ours(base))
        one_way.append(await list_ours(base, ends=False))
    naive = [await list_naive(base) for _ in range(REPEATS)]
    wall, client, counts = sorted(ours, key=lambda r: r[0])[REPEATS // 2]
    one_wall, one_client, _ = sorted(one_way, key=lambda r: r[0])[REPEATS // 2]
    pages = {kind: max(1, math.ceil(n / 100)) for kind, n in counts.items()}
    latency_s = latency_ms / 1000
    floor = math.ceil(max(counts.values()) / 200)  # pages in a row when every kind is read from both ends
    # The emulator serves one request at a time, so its own time per page bounds us too.
    served_s = max(floor * (latency_s + service_s), sum(pages.values()) * service_s)
    return {"total": total, "latency_ms": latency_ms, "seeded_s": seeded_s, "objects_per_kind": counts,
            "calls": client.stats.calls, "min_calls": sum(pages.values()),
            "allowed_calls": sum(p + (p > 1) for p in pages.values()), "naive_calls": naive[0][1],
            "one_way_calls": one_client.stats.calls, "chain": client.stats.longest_chain, "floor_chain": floor,
            "one_way_chain": one_client.stats.longest_chain, "wall_s": wall, "bound_s": floor * latency_s,
            "one_way_s": one_wall, "one_way_bound_s": max(pages.values()) * latency_s,
            "naive_s": statistics.median(r[0] for r in naive), "page_service_s": service_s,
            "served_bound_s": served_s, "rate_limited": client.stats.rate_limited,
            "retries": client.stats.retries, "repeats": REPEATS}


def run(total: int = 5000, latency_ms: float = 20.0) -> dict[str, Any]:
    """Start an emulator, measure, stop it; aborts after DEADLINE_S."""
    flags = ("--latency-ms", str(latency_ms), "--rate-limit", "1000000/600")
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess.start(Path(tmp) / "bench.sqlite3", *flags) as server:
        try:
            return asyncio.run(asyncio.wait_for(measure(total, latency_ms, server), DEADLINE_S))
        except TimeoutError:
            raise RuntimeError(f"aborted: the live-listing benchmark took longer than {DEADLINE_S:.0f}s") from None


def show(r: dict[str, Any]) -> None:
    print(f"seeded {r['total']} resources in {r['seeded_s']:.1f}s")
    print(f"objects per kind: {r['objects_per_kind']}")
    print(f"calls:  ours {r['calls']} vs minimum {r['min_calls']}  → {r['calls'] / r['min_calls']:.2f}×"
          f"  (allowed: minimum + 1 per kind of several pages = {r['allowed_calls']}; "
          f"one walk {r['one_way_calls']}; naive {r['naive_calls']} → {r['naive_calls'] / r['min_calls']:.2f}×)")
    print(f"chain:  ours {r['chain']} pages in a row vs ⌈largest kind / 200⌉ = {r['floor_chain']}"
          f"  (one walk from the start: {r['one_way_chain']})")
    print(f"wall:   ours {r['wall_s']:.3f}s vs lower bound {r['bound_s']:.3f}s (both ends) "
          f"→ {r['wall_s'] / r['bound_s']:.2f}×   [old floor, one walk: {r['one_way_bound_s']:.3f}s]")
    print(f"        one walk from the start {r['one_way_s']:.3f}s → {r['one_way_s'] / r['bound_s']:.2f}× the "
          f"bound, {r['one_way_s'] / r['one_way_bound_s']:.2f}× its own floor; ours is "
          f"{r['one_way_s'] / r['wall_s']:.2f}× faster")
    print(f"        naive {r['naive_s']:.3f}s → {r['naive_s'] / r['bound_s']:.2f}×; ours is "
          f"{r['naive_s'] / r['wall_s']:.1f}× faster")
    print(f"        vs bound with the emulator's {r['page_service_s'] * 1000:.1f} ms per page "
          f"{r['served_bound_s']:.3f}s → {r['wall_s'] / r['served_bound_s']:.2f}×")
    print(f"429s: {r['rate_limited']}, retries: {r['retries']}  (median of {r['repeats']} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=5000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    try:
        show(run(args.total, args.latency_ms))
    except RuntimeError as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
