"""Plan at scale: live read calls and wall time vs the minimum and a per-resource-GET baseline,
build_plan CPU per resource (with scrypt, with keyed hmac fingerprints, and without either),
and peak memory.

Starts its own `metorial-apply emulator serve` on a free 127.0.0.1 port (SQLite in a temp
dir), seeds N stamped resources with latency 0, then measures with 50 ms latency per request.
Run: python benchmarks/plan_scale.py [--sizes 1000,10000] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import resource
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from emulator_process import SECRET_KEY, EmulatorProcess  # first: it puts this checkout on sys.path

from metorial_apply.api.catalog import fetch_catalog
from metorial_apply.api.client import MetorialClient, open_client
from metorial_apply.api.live import read_live
from metorial_apply.api.ratelimit import RateLimitSettings
from metorial_apply.apply.ids import IdMap
from metorial_apply.core import fingerprint
from metorial_apply.core.kinds import KINDS, create_body
from metorial_apply.core.model import Address, Resource, SecretValue
from metorial_apply.core.state import State
from metorial_apply.planning.plan import build_plan

STACK = "bench"
UNLIMITED = RateLimitSettings(count=10_000_000, window_s=600, learn=False)
BENCH_KEY = fingerprint.FingerprintKey(b"benchmark-only-fingerprint-key-0123456789")  # not a secret


def desired_resources(n: int) -> list[Resource]:
    """n resources in groups of four: deployment, config (secret), auth config (secret), template."""
    out: list[Resource] = []
    for i in range(max(1, n // 4)):
        provider, method, key = (("github", "token", "token") if i % 2 else ("linear", "api_key", "api_key"))
        value = {"base_url": f"https://ghe{i}.example"} if provider == "github" else {"team_key": f"T{i}"}
        rows = [
            ("deployment", f"d{i}", {"provider": provider, "description": f"deployment {i}", "tools": ["a", "b"]}),
            ("config", f"c{i}", {"deployment": f"d{i}", "provider": provider, "value": value}),
            (
                "auth_config",
                f"a{i}",
                {"deployment": f"d{i}", "provider": provider, "method": method, "value": {key: f"secret-{i}"}},
            ),
            (
                "session_template",
                f"t{i}",
                {"providers": [{"deployment": f"d{i}", "config": f"c{i}", "auth_config": f"a{i}"}]},
            ),
        ]
        for kind, name, data in rows:
            spec, secret = KINDS[kind].model.model_validate(data).canonical(name)
            out.append(Resource(address=Address(kind=kind, name=name), spec=spec,
                                secret=SecretValue(secret) if secret is not None else None))
    return out


async def seed(client: MetorialClient, resources: list[Resource]) -> None:
    ids = IdMap(await fetch_catalog(client))  # the applier's own: ours by address, catalog by slug/key
    with ThreadPoolExecutor(4) as pool:  # scrypt stamps in parallel (hashlib releases the GIL)
        stamps = list(pool.map(lambda r: fingerprint.stamp_for(r, STACK, fingerprint.new_salt() if r.secret else None),
                               resources))
    sem = asyncio.Semaphore(16)

    async def make(r: Resource, stamp: Any) -> None:
        kind = KINDS[r.address.kind]
        body = create_body(kind, r.spec, r.secret.reveal() if r.secret else None, stamp.to_metadata(), ids)
        async with sem:
            obj = await client.create(kind.path, body, kind=kind.kind, name=r.address.name, stamp=stamp.to_metadata())
        ids.record(r.address, obj["id"])

    for kind in sorted(KINDS.values(), key=lambda k: k.order):  # refs point at earlier kinds
        await asyncio.gather(
            *(make(r, s) for r, s in zip(resources, stamps, strict=False) if r.address.kind == kind.kind)
        )


async def live_read(url: str) -> tuple[State, dict[str, Any]]:
    async with open_client(url, SECRET_KEY, rate_limit=UNLIMITED, max_concurrency=10) as client:
        t0 = time.perf_counter()
        catalog = await fetch_catalog(client, detail_for={"github", "linear"})
        catalog_calls = client.stats.calls
        t1 = time.perf_counter()
        read = await read_live(client, STACK, catalog)
        t2 = time.perf_counter()
        return read.state, {"catalog_calls": catalog_calls, "live_calls": client.stats.calls - catalog_calls,
                            "live_s": t2 - t1, "catalog_s": t1 - t0}


async def baseline(url: str) -> tuple[float, int, dict[str, int]]:
    """Naive read: list every kind for ids, then GET each object, 10 at a time. Also returns
    how many objects each kind lists (ours or not: the minimum pages depend on all of them)."""
    async with open_client(url, SECRET_KEY, rate_limit=UNLIMITED, max_concurrency=10) as client:
        t0 = time.perf_counter()
        listed = await client.list_many({k.path: k.kind for k in KINDS.values()})
        sem = asyncio.Semaphore(10)

        async def one(path: str, id: str) -> None:
            async with sem:
                await client.get(path, id)

        await asyncio.gather(*(one(path, obj["id"]) for path, items in listed.items() for obj in items))
        return time.perf_counter() - t0, client.stats.calls, {p: len(items) for p, items in listed.items()}


def edited(resources: list[Resource]) -> list[Resource]:
    """Desired = seeded with 5 % of deployments' descriptions changed and one new secret per 100."""
    out = []
    for i, r in enumerate(resources):
        if r.address.kind == "deployment" and i % 20 == 0:
            r = r.model_copy(update={"spec": r.spec | {"description": "changed"}})
        if r.address.kind == "config" and i % 100 == 1:
            r = r.model_copy(update={"secret": SecretValue({"base_url": "https://rotated.example"})})
        out.append(r)
    return out


def plan_cpu(desired: State, live: State) -> dict[str, float]:
    fingerprint._scrypt.cache_clear()
    t0 = time.process_time()
    plan = build_plan(desired, live)
    cold = time.process_time() - t0
    t0 = time.process_time()
    build_plan(desired, live)  # fingerprints cached: the planner's own work
    warm_cpu = time.process_time() - t0
    fingerprint._scrypt.cache_clear()
    pairs = [(r.secret, live.get(r.address).stamp) for r in desired if r.secret and live.get(r.address)]  # type: ignore[union-attr]
    t0 = time.perf_counter()
    fingerprint.warm(pairs, workers=os.cpu_count() or 2)
    warm_wall = time.perf_counter() - t0
    return {"cold_cpu": cold, "plan_only_cpu": warm_cpu, "threaded_scrypt_wall": warm_wall,
            "secrets": len(pairs), "actionable": len(plan.actionable())}


def keyed_live(live: State, seeded: list[Resource]) -> State:
    """Live as if applied with BENCH_KEY: the same salts, hmac fingerprints instead of scrypt."""
    by = {r.address: r for r in seeded}
    out = []
    for r in live:
        mine = by.get(r.address)
        if r.stamp and r.stamp.secret_salt and mine is not None and mine.secret is not None:
            r = r.model_copy(update={"stamp": fingerprint.stamp_for(mine, STACK, r.stamp.secret_salt, BENCH_KEY)})
        out.append(r)
    return State.of(live.stack, out)


def keyed_cpu(desired: State, live: State) -> tuple[float, int]:
    """build_plan CPU with every secret's fingerprint keyed (nothing cached: hmac is not)."""
    t0 = time.process_time()
    plan = build_plan(desired, live, key=BENCH_KEY)
    return time.process_time() - t0, len(plan.actionable())


def run(n: int, latency: float, server: EmulatorProcess) -> None:
    url = server.url
    server.reset()
    server.faults(latency_ms=0)  # seed at full speed; measure at `latency`
    resources = desired_resources(n)
    t0 = time.perf_counter()

    async def seeding() -> None:
        async with open_client(url, SECRET_KEY, rate_limit=UNLIMITED, max_concurrency=16) as client:
            await seed(client, resources)

    asyncio.run(seeding())
    print(f"\n== {len(resources)} resources (seeded in {time.perf_counter() - t0:.1f} s), latency {latency:.0f} ms ==")
    server.faults(latency_ms=latency)
    live, info = asyncio.run(live_read(url))
    base_s, base_calls, listed = asyncio.run(baseline(url))
    # An empty kind still costs one call; a full last page costs one more to learn it was the last.
    minimum = sum(max(1, math.ceil(c / 100)) for c in listed.values())
    print(f"live read: {info['live_calls']} list calls (minimum {minimum} = Σ max(1, ⌈n_kind/100⌉) over "
          f"{sum(listed.values())} listed objects), catalog {info['catalog_calls']} calls; {info['live_s']:.2f} s")
    print(f"baseline (list ids + GET each, parallelism 10): {base_calls} calls, {base_s:.2f} s "
          f"→ ours is {base_s / info['live_s']:.1f}× faster, {base_calls / info['live_calls']:.0f}× fewer calls")
    server.faults(latency_ms=0)
    desired = State.of(STACK, edited(resources))
    cpu = plan_cpu(desired, live)
    count = len(resources)
    print(f"build_plan CPU: {cpu['cold_cpu'] * 1000 / count:.3f} ms/resource incl. scrypt for {cpu['secrets']} secrets "
          f"({cpu['cold_cpu']:.2f} s); {cpu['plan_only_cpu'] * 1000 / count:.3f} ms/resource without scrypt "
          f"(target < 0.2); scrypt prefetch in threads: {cpu['threaded_scrypt_wall']:.2f} s wall; "
          f"{cpu['actionable']} changes")
    hmac_cpu, hmac_changes = keyed_cpu(desired, keyed_live(live, resources))
    print(f"build_plan CPU keyed: {hmac_cpu * 1000 / count:.3f} ms/resource incl. hmac-sha256 for {cpu['secrets']} "
          f"secrets ({hmac_cpu:.2f} s, METORIAL_APPLY_FINGERPRINT_KEY set); {hmac_changes} changes")
    tracemalloc.start()
    fingerprint._scrypt.cache_clear()
    live2, _ = asyncio.run(live_read(url))
    build_plan(desired, live2)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"memory: live read + plan peak {peak / 2**20:.1f} MiB traced (target < 200); process max RSS {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    with (tempfile.TemporaryDirectory() as tmp,
          EmulatorProcess.start(Path(tmp) / "bench.sqlite3", "--rate-limit", "10000000/600") as server):
        for n in (int(x) for x in args.sizes.split(",")):
            run(n, args.latency_ms, server)


if __name__ == "__main__":
    main()
