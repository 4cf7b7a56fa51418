"""Plan at scale: live read calls and wall time vs the minimum and a per-resource-GET baseline
at growing sizes, and build_plan CPU per resource by fingerprint mode (scrypt, scrypt already
in the per-run memo, keyed hmac, secrets excluded).

Starts its own `metorial-apply emulator serve` on a free 127.0.0.1 port (SQLite in a temp
dir), seeds stamped resources with latency 0 (each size adds to the last), then measures with
50 ms latency per request. CPU modes are measured at --cpu-size resources.
Run: python benchmarks/plan_scale.py [--sizes 1000,10000] [--latency-ms 50] [--cpu-size 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import tempfile
import time
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
from metorial_apply.core.kinds import KINDS, METORIAL_KINDS, create_body
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

    for kind in sorted(METORIAL_KINDS.values(), key=lambda k: k.order):  # refs point at earlier kinds
        await asyncio.gather(
            *(make(r, s) for r, s in zip(resources, stamps, strict=False) if r.address.kind == kind.kind)
        )


async def live_read(url: str) -> tuple[State, dict[str, Any]]:
    async with open_client(url, SECRET_KEY, rate_limit=UNLIMITED, max_concurrency=10) as client:
        t0 = time.perf_counter()
        catalog = await fetch_catalog(client, detail_for={"github", "linear"})
        catalog_calls, catalog_chain = client.stats.calls, client.stats.longest_chain
        t1 = time.perf_counter()
        read = await read_live(client, STACK, catalog)
        t2 = time.perf_counter()
        return read.state, {"catalog_calls": catalog_calls, "live_calls": client.stats.calls - catalog_calls,
                            "live_s": t2 - t1, "catalog_s": t1 - t0, "chain": client.stats.longest_chain,
                            "catalog_chain": catalog_chain}


async def one_walk(url: str) -> float:
    """The lists alone, each kind walked from its start only (the live read before issue 24)."""
    async with open_client(url, SECRET_KEY, rate_limit=UNLIMITED, max_concurrency=10) as client:
        t0 = time.perf_counter()
        await client.list_many({k.path: k.kind for k in METORIAL_KINDS.values()})
        return time.perf_counter() - t0


async def baseline(url: str) -> tuple[float, int, dict[str, int]]:
    """Naive read: list every kind for ids, then GET each object, 10 at a time. Also returns
    how many objects each kind lists (ours or not: the minimum pages depend on all of them)."""
    async with open_client(url, SECRET_KEY, rate_limit=UNLIMITED, max_concurrency=10) as client:
        t0 = time.perf_counter()
        listed = await client.list_many({k.path: k.kind for k in METORIAL_KINDS.values()})
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


def strip_secrets(state: State) -> State:
    """The same resources without secrets: build_plan's own work, no fingerprint compared."""
    return State.of(state.stack, [r.model_copy(update={"secret": None}) for r in state])


def cpu_per_resource(desired: State, live: State, key: fingerprint.FingerprintKey | None = None) -> dict[str, float]:
    t0 = time.process_time()
    plan = build_plan(desired, live, key=key)
    cpu = time.process_time() - t0
    return {"ms_per_resource": cpu * 1000 / len(desired), "cpu_s": cpu, "changes": len(plan.actionable())}


def cpu_modes(resources: list[Resource], live: State) -> dict[str, Any]:
    """build_plan CPU per resource by mode, and the threaded scrypt prefetch's wall time."""
    desired = State.of(STACK, edited(resources))
    fingerprint._scrypt.cache_clear()
    modes = {"scrypt": cpu_per_resource(desired, live)}
    modes["scrypt_cached"] = cpu_per_resource(desired, live)  # every fingerprint in the per-run memo
    modes["keyed"] = cpu_per_resource(desired, keyed_live(live, resources), BENCH_KEY)
    modes["no_secrets"] = cpu_per_resource(strip_secrets(desired), live)
    fingerprint._scrypt.cache_clear()
    pairs = [(r.secret, live.get(r.address).stamp) for r in desired if r.secret and live.get(r.address)]  # type: ignore[union-attr]
    t0 = time.perf_counter()
    fingerprint.warm(pairs, workers=os.cpu_count() or 2)
    fingerprint._scrypt.cache_clear()
    return {"resources": len(desired), "secrets": len(pairs), "modes": modes,
            "threaded_scrypt_wall_s": time.perf_counter() - t0, "threads": os.cpu_count() or 2}


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


def grow(server: EmulatorProcess, resources: list[Resource]) -> float:
    """Seed `resources` (whole groups) at zero latency; seconds it took."""
    server.faults(latency_ms=0)
    t0 = time.perf_counter()

    async def seeding() -> None:
        async with open_client(server.url, SECRET_KEY, rate_limit=UNLIMITED, max_concurrency=16) as client:
            await seed(client, resources)

    asyncio.run(seeding())
    return time.perf_counter() - t0


def read_figures(server: EmulatorProcess, n: int, latency: float) -> tuple[State, dict[str, Any]]:
    server.faults(latency_ms=latency)
    live, info = asyncio.run(live_read(server.url))
    one_s = asyncio.run(one_walk(server.url))
    base_s, base_calls, listed = asyncio.run(baseline(server.url))
    # An empty kind still costs one call; a full last page costs one more to learn it was the last.
    pages = [max(1, math.ceil(c / 100)) for c in listed.values()]
    largest = max(listed.values())
    return live, info | {"resources": n, "listed": sum(listed.values()), "min_calls": sum(pages),
                         "allowed_calls": sum(p + (p > 1) for p in pages),  # a kind from both ends: one more
                         "baseline_calls": base_calls, "baseline_s": base_s, "one_walk_s": one_s,
                         "largest": largest, "floor_chain": math.ceil(largest / 200),
                         # pages in a row × latency: each kind from both ends, and from its start alone
                         "floor_s": math.ceil(largest / 200) * latency / 1000,
                         "one_walk_floor_s": max(1, math.ceil(largest / 100)) * latency / 1000}


def run(sizes: list[int], latency: float = 50.0, cpu_size: int = 1000) -> dict[str, Any]:
    """Live read and baseline at each size (seeding adds to the last size), CPU modes at `cpu_size`."""
    rows: list[dict[str, Any]] = []
    cpu: dict[str, Any] = {}
    wanted = sorted(set(sizes) | {cpu_size})
    everything = desired_resources(wanted[-1])
    with (tempfile.TemporaryDirectory() as tmp,
          EmulatorProcess.start(Path(tmp) / "bench.sqlite3", "--rate-limit", "10000000/600") as server):
        done = 0
        for size in wanted:
            n = len(desired_resources(size))  # whole groups
            seeded_s = grow(server, everything[done:n])
            done = n
            live, info = read_figures(server, n, latency)
            info["seeded_s"] = seeded_s
            if size in sizes:
                rows.append(info)
            if size == cpu_size:
                server.faults(latency_ms=0)
                cpu = cpu_modes(everything[:n], live)
    return {"latency_ms": latency, "sizes": rows, "cpu": cpu}


def show(result: dict[str, Any]) -> None:
    for r in result["sizes"]:
        print(f"\n== {r['resources']} resources (seeded in {r['seeded_s']:.1f} s), "
              f"latency {result['latency_ms']:.0f} ms")
        print(f"live read: {r['live_calls']} list calls (minimum {r['min_calls']} = Σ max(1, ⌈n_kind/100⌉) over "
              f"{r['listed']} listed objects), catalog {r['catalog_calls']} calls; {r['live_s']:.2f} s")
        print(f"live read vs its floor ⌈{r['largest']} / 200⌉ × latency = {r['floor_s']:.2f} s (both ends): "
              f"{r['live_s'] / r['floor_s']:.2f}×, longest chain {r['chain']} pages (floor {r['floor_chain']}); "
              f"old floor (one walk) {r['one_walk_floor_s']:.2f} s; the lists walked from the start alone "
              f"{r['one_walk_s']:.2f} s")
        # The provider list's pages in a row, then one round trip for the named providers' details.
        print(f"catalog: {r['catalog_calls']} calls, {r['catalog_s']:.2f} s vs its floor "
              f"({r['catalog_chain']} + 1) × latency = {(r['catalog_chain'] + 1) * result['latency_ms'] / 1000:.2f} s")
        print(f"baseline (list ids + GET each, parallelism 10): {r['baseline_calls']} calls, {r['baseline_s']:.2f} s "
              f"→ ours is {r['baseline_s'] / r['live_s']:.1f}× faster, "
              f"{r['baseline_calls'] / r['live_calls']:.0f}× fewer calls")
    cpu = result["cpu"]
    if cpu:
        print(f"\nbuild_plan CPU per resource at {cpu['resources']} resources ({cpu['secrets']} secrets compared):")
        for mode, m in cpu["modes"].items():
            print(f"  {mode:14} {m['ms_per_resource']:.3f} ms ({m['cpu_s']:.2f} s, {m['changes']} changes)")
        print(f"  scrypt prefetch in {cpu['threads']} threads: {cpu['threaded_scrypt_wall_s']:.2f} s wall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--cpu-size", type=int, default=1000)
    args = parser.parse_args()
    show(run([int(x) for x in args.sizes.split(",")], args.latency_ms, args.cpu_size))


if __name__ == "__main__":
    main()
