"""Stack index at scale: a no-change `plan` of N resources (calls against the minimum, wall
time against the same plan on PARENT, the commit before the index was written), beside 20 other
stacks' indexes of 10,000 entries each, and the index writes of an apply that changes K
resources against one call per changed 64 KiB shard plus the head.

Starts its own `metorial-apply emulator serve` on a free 127.0.0.1 port. With latency 0: the
stack `bench` is seeded by the CLI's own `apply` (which writes its index), and each other
stack's index is planted as the writer would write it (core/layout.py, core/index.py), naming
ids that do not exist. Measured at 50 ms per request, every command a child
`python -m metorial_apply …`; the parent's from `git archive PARENT` of this repository, in turn
with ours. Two comparisons: alone (ours with its index; the parent on a second emulator it
seeded itself, so no index records at all) and crowded (one organization with every index; for
the parent the bench head is parked, its index key renamed: PARENT reads an older index format
and never wrote one, so it plans the same objects from their stamps).
Run: python benchmarks/index_scale.py [--resources 10000] [--entries 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import io
import json
import math
import re
import statistics
import subprocess
import tarfile
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cli_runs import BENCH_KEY, CliRun, run_cli, stack_yaml
from emulator_process import REPO, SECRET_KEY, EmulatorProcess
from plan_scale import UNLIMITED, desired_resources

from metorial_apply.api.client import PAGE_SIZE, open_client
from metorial_apply.api.limits import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_JSON_VALUES, structure, value_bound
from metorial_apply.apply.lock import PATH, hold_stack_lock
from metorial_apply.core import fingerprint
from metorial_apply.core import index as ix
from metorial_apply.core.kinds import METORIAL_KINDS
from metorial_apply.core.layout import layout
from metorial_apply.core.lock import LockSettings

STACK, PARENT, RATE = "bench", "5319390", "100000000/600"
PARKED = "benchmark/parked-index"  # the head's index key while the parent plans: no head, no index
INDEX_CALL = "index"  # the writer's call kind, so journals and --stats count them as the index's
KEY = fingerprint.FingerprintKey(BENCH_KEY.encode())


# -- planting other stacks' indexes ----------------------------------------------------------


def template_items(entries: int) -> list[tuple[str, str]]:
    """The entries of stack `g00`'s index, keyed `g00_<n>`: facts of real keyed stamps (half with a secret)."""
    stamps = [fingerprint.stamp_for(r, "g00", fingerprint.new_salt() if r.secret else None, KEY)
              for r in desired_resources(entries)]
    index = ix.Index(stack="g00", generation=1, entries=tuple(ix.IndexEntry(id=f"g00_{j:06d}", stamp=s)
                                                             for j, s in enumerate(stamps)))
    return ix.index_items(index)


async def plant(url: str, stacks: int, entries: int) -> int:
    """Each stack's shards (created first), then its head naming their ids; records created."""
    items = template_items(entries)
    made = 0
    async with open_client(url, SECRET_KEY, rate_limit=UNLIMITED, max_concurrency=8) as client:
        for s in range(stacks):
            name = f"g{s:02d}"
            mine = [(ix.ENTRY_PREFIX + name + k[len(ix.ENTRY_PREFIX) + 3:], v) for k, v in items]
            planned = layout(name, mine, ())

            async def shard(metadata: dict[str, str], name: str = name) -> str:
                body = {"name": f"metorial-apply index shard: {name}", "metadata": metadata}
                return str((await client.create(PATH, body, kind=INDEX_CALL, name="", stamp={}))["id"])

            ids = await asyncio.gather(*(shard(p.metadata or {}) for p in planned))
            refs = [p.ref(i) for p, i in zip(planned, ids, strict=True)]
            head = ix.head_metadata(ix.Index(stack=name, generation=1), refs)
            await client.create(PATH, {"name": f"metorial-apply index: {name}", "metadata": head}, kind=INDEX_CALL,
                                name="", stamp={})
            made += len(ids) + 1
    return made


# -- what the organization lists --------------------------------------------------------------


def pages(count: int) -> int:
    return max(1, math.ceil(count / PAGE_SIZE))  # an empty kind still costs a call


async def listed(url: str) -> tuple[dict[str, Any], ix.Index, dict[str, str]]:
    """Per-kind counts, the minimum list calls a live read can make, the bench index and its head's metadata."""
    async with open_client(url, SECRET_KEY, rate_limit=UNLIMITED, max_concurrency=10) as client:
        by_path = await client.list_many({k.path: k.kind for k in METORIAL_KINDS.values()})
    templates = by_path[PATH]
    index = ix.read_index(STACK, templates)
    assert index is not None, "the seeding apply wrote no index"
    records = sum(1 for t in templates if ix.is_index_record(t))
    counts = {p: len(items) for p, items in by_path.items()}
    head = next(t["metadata"] for t in templates if t["id"] == index.head)
    return {"listed": counts, "min_calls": sum(pages(c) for c in counts.values()), "index_records": records,
            # each kind of several pages is read from both ends (api/ends.py): one call more at most
            "allowed_calls": sum(pages(c) + (pages(c) > 1) for c in counts.values()),
            "index_pages": pages(len(templates)) - pages(len(templates) - records),
            "bench_shards": len(index.shards), "bench_entries": len(index.entries),
            "critical_pages": max(pages(c) for c in counts.values())}, index, head


def page_caps(url: str) -> dict[str, Any]:
    """The session-template pages as the API sends them: the biggest against the client's default caps."""
    biggest = values = n = 0
    after: str | None = None
    t0 = time.perf_counter()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=60) as http:
        for _ in range(10_000):
            n += 1
            response = http.get(PATH, params={"limit": PAGE_SIZE} | ({"after": after} if after else {}))
            response.raise_for_status()
            body = response.content
            biggest, values = max(biggest, len(body)), max(values, value_bound(structure(body)))
            page = json.loads(body)
            if not page["items"] or not page["pagination"].get("has_more_after"):
                break
            after = page["items"][-1]["id"]
    return {"pages": n, "fetch_s": time.perf_counter() - t0, "max_page_bytes": biggest, "max_page_values": values,
            "cap_bytes": DEFAULT_MAX_BODY_BYTES, "cap_values": DEFAULT_MAX_JSON_VALUES,
            "worst_page_bytes": PAGE_SIZE * ix.SHARD_BYTES}


# -- plans: ours and the parent's -------------------------------------------------------------


def figures(run: CliRun) -> dict[str, Any]:
    """Wall time and --stats of one plan."""
    def grab(pattern: str) -> str:
        found = re.search(pattern, run.err, re.M)
        if not found:
            raise RuntimeError(f"no {pattern!r} in the plan's --stats:\n{run.err[-1500:]}")
        return found.group(1)

    laps = {k.strip(): float(v) for k, v in re.findall(r"([a-z ]+) ([0-9.]+) s", grab(r"^Time: (.*); total"))}
    return {"wall_s": round(run.wall_s, 3), "total_s": float(grab(r"; total ([0-9.]+) s")),
            "live_s": laps.get("live read", 0.0), "plan_s": laps.get("plan", 0.0),
            "list_calls": int(grab(r"^Live read: (\d+) list calls")), "api_calls": int(grab(r"^API calls: (\d+)"))}


def cli_plan(server: EmulatorProcess, path: Path, checkout: Path | None = None) -> dict[str, Any]:
    """A no-change plan (exit 0 with --detailed-exitcode, or it raises), by this checkout or `checkout`."""
    env = {"PYTHONPATH": str(checkout)} if checkout else None
    run = run_cli(["plan", str(path), "--api-url", server.url, "--stats", "--detailed-exitcode"], path.parent,
                  key=BENCH_KEY, env=env, timeout_s=600)
    return figures(run.check(0))


def parked_plan(server: EmulatorProcess, path: Path, parent: Path, index: ix.Index, head: dict[str, str],
                latency: float) -> dict[str, Any]:
    """The parent's plan with the bench head's index key renamed (at latency 0), then put back."""
    async def patch(parked: bool) -> None:
        metadata = {(PARKED if k == ix.INDEX_KEY and parked else k): v for k, v in head.items()}
        async with open_client(server.url, SECRET_KEY, rate_limit=UNLIMITED) as client:
            await client.update(PATH, str(index.head), {"metadata": metadata}, kind=INDEX_CALL, name="")

    server.faults(latency_ms=0)
    asyncio.run(patch(True))
    server.faults(latency_ms=latency)
    try:
        return cli_plan(server, path, parent)
    finally:
        server.faults(latency_ms=0)
        asyncio.run(patch(False))
        server.faults(latency_ms=latency)


def checkout(commit: str, into: Path) -> Path:
    """The package as it was at `commit`, unpacked into `into` (git archive: no worktree to clean up)."""
    tar = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit, "metorial_apply"],
                         capture_output=True, timeout=120, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(into, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))  # type: ignore[arg-type]
    return into


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]} | {"runs": len(runs)}


def compare(ours: Callable[[], dict[str, Any]], theirs: Callable[[], dict[str, Any]], repeats: int) -> dict[str, Any]:
    """`repeats` no-change plans each, ours and the parent's, alternating which goes first."""
    runs: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    for r in range(repeats):
        for mine in ((True, False) if r % 2 == 0 else (False, True)):
            runs[mine].append(ours() if mine else theirs())
    a, b = median(runs[True]), median(runs[False])
    return {"ours": a, "parent": b, "ratio": a["wall_s"] / b["wall_s"], "live_ratio": a["live_s"] / b["live_s"],
            "ours_walls": [r["wall_s"] for r in runs[True]], "parent_walls": [r["wall_s"] for r in runs[False]]}


# -- an apply of K changes ---------------------------------------------------------------------


def changed_yaml(groups: int, k: int) -> tuple[str, list[str]]:
    """The bench stack with K deployments' descriptions changed, spread over the stack."""
    text, chosen = stack_yaml(groups, STACK), sorted({j * groups // k for j in range(k)})
    for i in chosen:
        text = text.replace(f"  d{i}: {{provider: github}}\n", f"  d{i}: {{provider: github, description: changed}}\n")
    return text, [f"deployment.d{i}" for i in chosen]


def touched(index: ix.Index, addresses: list[str]) -> int:
    """How many of the index's shards hold an entry of `addresses`: what an apply must rewrite."""
    firsts = [s.first for s in index.shards]
    ids = [e.id for e in index.entries if e.stamp.address in addresses]
    return len({bisect.bisect_right(firsts, ix.ENTRY_PREFIX + i) - 1 for i in ids})


def hold_lock(url: str, release: Callable[[], bool], acquired: threading.Event, errors: list[str]) -> None:
    """Hold the bench lock (in this thread's own loop) until `release()` says so, at most 300 s."""
    async def hold() -> None:
        async with (open_client(url, SECRET_KEY, rate_limit=UNLIMITED) as client,
                    hold_stack_lock(client, STACK, LockSettings()) as _):
            acquired.set()
            deadline = time.monotonic() + 300
            while not release() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)

    try:
        asyncio.run(hold())
    except Exception as exc:  # the apply then runs without a wait; the figure says why
        errors.append(f"{type(exc).__name__}: {exc}")
    acquired.set()


def journal_counts(path: Path) -> dict[str, Any]:
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    calls = Counter(f"{c['kind']} {c['method']}" for c in lines if c["event"] == "call")
    outcomes = Counter(c["outcome"] for c in lines if c["event"] == "change")
    return {"calls": dict(sorted(calls.items())), "changes": dict(outcomes), "total_calls": sum(calls.values())}


def apply_changes(server: EmulatorProcess, work: Path, groups: int, k: int, index: ix.Index,
                  lock_wait: bool) -> dict[str, Any]:
    """The CLI applies K changed descriptions (after waiting for a lock we hold, with `lock_wait`)."""
    text, addresses = changed_yaml(groups, k)
    path, journal, err = work / "changed" / f"{STACK}.yaml", work / "apply.jsonl", work / "cli.err"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    err.unlink(missing_ok=True)
    acquired, errors = threading.Event(), []
    holder = threading.Thread(target=hold_lock, args=(server.url, lambda: err.exists() and "waiting up to"
                                                      in err.read_text(errors="replace"), acquired, errors))
    if lock_wait:
        holder.start()
        acquired.wait(300)
    run = run_cli(["-q", "apply", str(path), "--api-url", server.url, "--auto-approve", "--rate-limit", RATE,
                   "--journal", str(journal), "--lock-timeout", "300"], work, key=BENCH_KEY, timeout_s=900).check()
    if lock_wait:
        holder.join(330)
    counts = journal_counts(journal)
    return {"changed": len(addresses), "touched_shards": touched(index, addresses), "shards": len(index.shards),
            "wall_s": round(run.wall_s, 3), "lock_waited": "waiting up to" in run.err, "lock_errors": errors} | counts


# -- the run ----------------------------------------------------------------------------------


def seed(server: EmulatorProcess, work: Path, groups: int, checkout: Path | None = None) -> tuple[Path, float]:
    """The bench stack, applied at latency 0 by this checkout (or `checkout`)."""
    path = work / f"{STACK}.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(stack_yaml(groups, STACK))
    server.faults(latency_ms=0)
    t0 = time.perf_counter()
    run_cli(["-q", "apply", str(path), "--api-url", server.url, "--auto-approve", "--rate-limit", RATE],
            path.parent, key=BENCH_KEY, timeout_s=1800, env={"PYTHONPATH": str(checkout)} if checkout else None).check()
    return path, time.perf_counter() - t0


def alone(server: EmulatorProcess, path: Path, parent: Path, groups: int, repeats: int,
          latency: float) -> dict[str, Any]:
    """Ours (the bench index only) against the parent on an organization the parent seeded itself."""
    work = path.parent.parent / "parent-org"
    with EmulatorProcess.start(path.parent.parent / "parent.sqlite3", "--rate-limit", RATE) as theirs:
        theirs_path, seeded = seed(theirs, work, groups, parent)
        server.faults(latency_ms=latency)
        theirs.faults(latency_ms=latency)
        figures = compare(lambda: cli_plan(server, path), lambda: cli_plan(theirs, theirs_path, parent), repeats)
    return figures | {"parent_seed_s": seeded}


def crowded(server: EmulatorProcess, path: Path, parent: Path, stacks: int, entries: int, repeats: int,
            latency: float) -> tuple[dict[str, Any], ix.Index]:
    """Plant the other stacks' indexes, then ours against the parent on this one organization."""
    server.faults(latency_ms=0)
    t0 = time.perf_counter()
    planted = asyncio.run(plant(server.url, stacks, entries))
    out: dict[str, Any] = {"planted_records": planted, "plant_s": time.perf_counter() - t0}
    out["listing"], index, head = asyncio.run(listed(server.url))
    out["caps"] = page_caps(server.url)
    server.faults(latency_ms=latency)
    out["compare"] = compare(lambda: cli_plan(server, path),
                             lambda: parked_plan(server, path, parent, index, head, latency), repeats)
    return out, index


def run(resources: int = 10_000, stacks: int = 20, entries: int = 10_000, repeats: int = 3, k: int = 10,
        latency: float = 50.0, parent: str = PARENT, lock_wait: bool = True) -> dict[str, Any]:
    groups = max(1, resources // 4)
    out: dict[str, Any] = {"resources": groups * 4, "stacks": stacks, "entries": entries, "latency_ms": latency,
                           "parent_commit": parent, "page_size": PAGE_SIZE, "changes": k}
    with (tempfile.TemporaryDirectory() as tmp,
          EmulatorProcess.start(Path(tmp) / "bench.sqlite3", "--rate-limit", RATE) as server):
        work = Path(tmp)
        old = checkout(parent, work / "parent")
        path, out["seed_s"] = seed(server, work / "ours", groups)
        out["alone"] = alone(server, path, old, groups, repeats, latency)
        crowd, index = crowded(server, path, old, stacks, entries, repeats, latency)
        out |= crowd
        out["crowding"] = out["compare"]["ours"]["wall_s"] / out["alone"]["ours"]["wall_s"]
        out["apply"] = apply_changes(server, work, groups, k, index, lock_wait)
        server.faults(latency_ms=0)
        after = asyncio.run(listed(server.url))[1]
        out["apply"] |= {"generation": [index.generation, after.generation],
                         "shards_kept": len({s.id for s in index.shards} & {s.id for s in after.shards})}
    return out


def show(r: dict[str, Any]) -> None:
    show_plan(r)
    show_apply(r["apply"])


def show_plan(r: dict[str, Any]) -> None:
    li, c, caps, ms = r["listing"], r["compare"], r["caps"], r["latency_ms"]
    ours = c["ours"]
    print(f"\n== no-change plan of {r['resources']} resources (stack {STACK!r}, seeded by apply in "
          f"{r['seed_s']:.1f} s), latency {ms:g} ms")
    versus(f"alone: the bench index only; the parent on an organization it seeded itself "
           f"({r['alone']['parent_seed_s']:.1f} s)", r["alone"], r["parent_commit"])
    print(f"\n{r['stacks']} other stacks' indexes of {r['entries']} entries planted ({r['planted_records']} records, "
          f"{r['plant_s']:.1f} s); bench index: {li['bench_entries']} entries in {li['bench_shards']} shards; index "
          f"records listed: {li['index_records']} ({li['index_pages']} of the session-template list's pages)")
    print(f"live read: {ours['list_calls']} list calls, minimum {li['min_calls']} = "
          f"Σ max(1, ⌈n_kind/{r['page_size']}⌉) over {sum(li['listed'].values())} listed objects → "
          f"{ours['list_calls'] - li['min_calls']} extra calls for the index "
          f"(a GET per index record would add {li['bench_shards'] + 1})")
    print(f"live read {ours['live_s']:.2f} s vs latency bound {li['critical_pages']} pages × {ms:g} ms = "
          f"{li['critical_pages'] * ms / 1000:.2f} s; the session-template pages alone take {caps['fetch_s']:.2f} s "
          f"to fetch at 0 ms; plan wall {r['crowding']:.2f}× the plan before the other indexes existed")
    print(f"largest session-template page: {caps['max_page_bytes'] / 2**20:.2f} MiB of the "
          f"{caps['cap_bytes'] / 2**20:g} MiB cap (worst possible {caps['worst_page_bytes'] / 2**20:.2f} MiB), "
          f"{caps['max_page_values']:,} values of {caps['cap_values']:,}; {caps['pages']} pages")
    versus("crowded: ours against the parent on this organization, the bench head parked for the parent",
           c, r["parent_commit"])


def versus(what: str, c: dict[str, Any], parent: str) -> None:
    ours, theirs = c["ours"], c["parent"]
    verdict = "≤ 1.10 ✓" if c["ratio"] <= 1.10 else "> 1.10 ✗"
    print(f"{what}:\n  vs parent {parent} (median of {ours['runs']}): wall {ours['wall_s']:.2f} s vs "
          f"{theirs['wall_s']:.2f} s → {c['ratio']:.3f}× ({verdict}); live read {ours['live_s']:.2f} vs "
          f"{theirs['live_s']:.2f} s; plan phase {ours['plan_s']:.2f} vs {theirs['plan_s']:.2f} s; list calls "
          f"{ours['list_calls']} vs {theirs['list_calls']}; walls {c['ours_walls']} vs {c['parent_walls']}")


def show_apply(a: dict[str, Any]) -> None:
    calls = a["calls"]
    writes = calls.get("index POST", 0) + calls.get("index PATCH", 0)
    print(f"\n== apply of {a['changed']} changed descriptions ({a['changes']}) in {a['wall_s']:.2f} s"
          f"{' after a lock wait' if a['lock_waited'] else ''} {a['lock_errors'] or ''}")
    print(f"index: {calls.get('index POST', 0)} shard creates (entries changed in {a['touched_shards']} of "
          f"{a['shards']} shards), {calls.get('index PATCH', 0)} head PATCH(es), "
          f"{calls.get('index DELETE', 0)} archives; {a['shards_kept']} shards kept, generation "
          f"{a['generation'][0]} → {a['generation'][1]}")
    print(f"writes {writes} vs one per changed shard + the head = {a['touched_shards'] + 1} → "
          f"{writes / (a['touched_shards'] + 1):.2f}×; rewriting every shard would be {a['shards'] + 1} writes + "
          f"{a['shards']} archives; all calls: {calls}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, default in (("--resources", 10_000), ("--stacks", 20), ("--entries", 10_000), ("--repeats", 3),
                          ("--changes", 10)):
        parser.add_argument(flag, type=int, default=default)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--parent", default=PARENT)
    parser.add_argument("--no-lock-wait", action="store_true")
    a = parser.parse_args()
    show(run(a.resources, a.stacks, a.entries, a.repeats, a.changes, a.latency_ms, a.parent, not a.no_lock_wait))


if __name__ == "__main__":
    main()
