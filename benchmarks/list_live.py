"""Benchmark: listing every managed kind (what `plan` does to read live state).

Starts `metorial-apply emulator serve` on a free 127.0.0.1 port with 20 ms latency, seeds
5,000 resources over the managed kinds (latency lifted while seeding), then lists them all
through MetorialClient and prints, as ratios measured in this run:

- API calls made vs the minimum Σ max(1, ceil(n_kind / 100));
- wall time vs the lower bound: a kind's pages are sequential (each cursor comes from the
  previous page) and kinds run in parallel, so max over kinds of pages × latency;
- a naive baseline: one kind after another, sequential pages at the default page size (20).

Run: `python benchmarks/list_live.py [--total 5000] [--latency-ms 20]`. Aborts after 300 s.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import math
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from metorial_apply.catalog import fetch_catalog
from metorial_apply.client import MetorialClient, open_client
from metorial_apply.kinds import KINDS
from metorial_apply.ratelimit import RateLimitSettings

KEY = "metorial_sk_local_emulator_secret_key"
DEADLINE_S = 300.0
REPEATS = 3
# Share of the seeded resources per kind (sums to 1).
SHARES = {"deployment": 0.30, "config": 0.20, "config_vault": 0.10, "auth_credentials": 0.06,
          "auth_config": 0.14, "session_template": 0.20}
# The benchmark measures listing, not rate limiting: give the emulator (and us) ample budget.
BUDGET = RateLimitSettings(count=1_000_000, window_s=600)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_emulator(port: int, db: Path, latency_ms: float) -> subprocess.Popen[bytes]:
    # The main CLI's `emulator` command when it is wired in; the emulator's own entry point otherwise.
    module = "metorial_apply" if importlib.util.find_spec("metorial_apply.cli.emulator") else "metorial_apply.emulator"
    args = [sys.executable, "-m", module, "emulator", "serve"] if module == "metorial_apply" else \
        [sys.executable, "-m", module, "serve"]
    args += ["--port", str(port), "--db", str(db), "--latency-ms", str(latency_ms), "--rate-limit", "1000000/600"]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=1.0) as http:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"emulator exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
            try:
                if (await http.get("/_emulator/stats")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("emulator did not become ready in time")


async def set_latency(base: str, latency_ms: float) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as http:
        (await http.put("/_emulator/faults", json={"latency_ms": latency_ms})).raise_for_status()


def seed_bodies(total: int, methods: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """(kind, create body) for `total` resources, all on the github provider."""
    counts = {kind: int(total * share) for kind, share in SHARES.items()}
    counts["deployment"] += total - sum(counts.values())
    make = {
        "deployment": lambda i: {"provider_id": "github", "name": f"bench-{i}"},
        "config": lambda i: {"provider_id": "github", "name": f"bench-{i}", "value": {"base_url": f"https://gh{i}"}},
        "config_vault": lambda i: {"provider_id": "github", "name": f"bench-{i}", "value": {}},
        "auth_credentials": lambda i: {"provider_id": "github", "name": f"bench-{i}",
                                       "config": {"type": "oauth", "client_id": f"c{i}", "client_secret": "s", "scopes": []}},
        "auth_config": lambda i: {"provider_auth_method_id": methods["token"], "name": f"bench-{i}", "value": {"token": "t"}},
        "session_template": lambda i: {"name": f"bench-{i}"},
    }
    return [(kind, make[kind](i) | {"metadata": {"bench": "1"}}) for kind, n in counts.items() for i in range(n)]


async def seed(base: str, total: int) -> None:
    async with open_client(base, KEY, rate_limit=BUDGET, max_concurrency=32) as client:
        github = (await fetch_catalog(client, detail_for={"github"})).find("github")
        assert github is not None
        bodies = seed_bodies(total, github.auth_methods)
        await asyncio.gather(*(client.create(KINDS[k].path, body, kind=k, name=body["name"], stamp={})
                               for k, body in bodies))


async def list_ours(base: str) -> tuple[float, MetorialClient, dict[str, int]]:
    async with open_client(base, KEY, rate_limit=BUDGET) as client:
        started = time.perf_counter()
        listed = await client.list_many({k.path: k.kind for k in KINDS.values()})
        elapsed = time.perf_counter() - started
    return elapsed, client, {KINDS_BY_PATH[p]: len(items) for p, items in listed.items()}


async def list_naive(base: str) -> tuple[float, int]:
    """One kind after another, pages of the default size, one request at a time."""
    calls = 0
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as http:
        started = time.perf_counter()
        for kind in KINDS.values():
            after: str | None = None
            while True:
                body = (await http.get(kind.path, params={"after": after} if after else None)).json()
                calls += 1
                if not body["items"] or not body["pagination"]["has_more_after"]:
                    break
                after = body["items"][-1]["id"]
        return time.perf_counter() - started, calls


KINDS_BY_PATH = {k.path: k.kind for k in KINDS.values()}


async def page_service_time(base: str, samples: int = 20) -> float:
    """Median server time for one full page (100 objects) at zero latency: the emulator's own cost."""
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as http:
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            (await http.get(KINDS["deployment"].path, params={"limit": 100})).raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


async def run(total: int, latency_ms: float, base: str) -> None:
    await set_latency(base, 0)
    started = time.perf_counter()
    await seed(base, total)
    print(f"seeded {total} resources in {time.perf_counter() - started:.1f}s")
    service_s = await page_service_time(base)
    await set_latency(base, latency_ms)
    ours = [await list_ours(base) for _ in range(REPEATS)]
    naive = [await list_naive(base) for _ in range(REPEATS)]
    wall, client, counts = sorted(ours, key=lambda r: r[0])[REPEATS // 2]
    pages = {kind: max(1, math.ceil(n / 100)) for kind, n in counts.items()}
    min_calls, bound_s = sum(pages.values()), max(pages.values()) * latency_ms / 1000
    naive_s, naive_calls = statistics.median(r[0] for r in naive), naive[0][1]
    print(f"objects per kind: {counts}")
    print(f"calls:  ours {client.stats.calls} vs minimum {min_calls}  → {client.stats.calls / min_calls:.2f}×"
          f"   (naive {naive_calls} → {naive_calls / min_calls:.2f}×)")
    print(f"wall:   ours {wall:.3f}s vs lower bound {bound_s:.3f}s  → {wall / bound_s:.2f}×"
          f"   (naive {naive_s:.3f}s → {naive_s / bound_s:.2f}×; ours is {naive_s / wall:.1f}× faster)")
    # The emulator serves one request at a time, so its own time per page bounds us too.
    served_s = max(max(pages.values()) * (latency_ms / 1000 + service_s), sum(pages.values()) * service_s)
    print(f"        vs bound with the emulator's {service_s * 1000:.1f} ms per page {served_s:.3f}s → {wall / served_s:.2f}×")
    print(f"429s: {client.stats.rate_limited}, retries: {client.stats.retries}  (median of {REPEATS} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=5000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_emulator(port, Path(tmp) / "bench.sqlite3", args.latency_ms)
        try:
            asyncio.run(asyncio.wait_for(_main(base, proc, args.total, args.latency_ms), DEADLINE_S))
        except asyncio.TimeoutError:
            sys.exit(f"aborted: the benchmark took longer than {DEADLINE_S:.0f}s")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _main(base: str, proc: subprocess.Popen[bytes], total: int, latency_ms: float) -> None:
    await wait_ready(base, proc)
    await run(total, latency_ms, base)


if __name__ == "__main__":
    main()
