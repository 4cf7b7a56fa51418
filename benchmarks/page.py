"""docs/benchmarks.md from the results dict: one table of figure / goal / measured / ratio, the
end-to-end table, the plots, and the machine and date it was measured on."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Measured by tests/client/test_hostile_memory.py, not by a benchmark: kept beside the scripts and
# included as written, so a re-run of the benchmarks does not drop it.
HOSTILE = Path(__file__).with_name("hostile_rss.md")


@dataclass(frozen=True)
class Row:
    figure: str
    goal: str
    measured: str
    ratio: str
    met: bool | None = None  # None: a figure without a pass/fail goal

    def shown_ratio(self) -> str:
        """The ratio column; a missed goal says so in words, plainly, not only by its number."""
        if self.met is not False:
            return self.ratio
        return "**goal missed**" if self.ratio == "—" else f"**{self.ratio}: goal missed**"


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "python": sys.version.split()[0],
            "platform": platform.platform(), "cpus": os.cpu_count(), "processor": cpu_model(),
            "load_at_end": [round(x, 2) for x in load]}


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        text = ""
    names = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown processor"


MORE_PAGES = "≤ minimum + 1 a kind of several pages"  # each such kind is read from both ends


def list_rows(r: dict[str, Any]) -> list[Row]:
    n, allowed = r["total"], r.get("allowed_calls", r["min_calls"])
    out = [
        Row(f"live read of {n} resources: API calls", MORE_PAGES,
            f"{r['calls']} (minimum {r['min_calls']}, allowed {allowed})", f"{r['calls'] / r['min_calls']:.2f}×",
            r["calls"] <= allowed),
        Row(f"live read of {n} resources at {r['latency_ms']:g} ms: wall", "faster than one kind at a time",
            f"{r['wall_s']:.2f} s (naive {r['naive_s']:.2f} s)", f"{r['naive_s'] / r['wall_s']:.1f}× faster",
            r["wall_s"] < r["naive_s"]),
    ]
    if "one_way_s" in r:
        out.append(Row(f"live read of {n} resources: wall vs ⌈largest kind/200⌉ × latency", "≤ 1.3× floor",
                       f"{r['wall_s']:.2f} s (floor {r['bound_s']:.2f} s; one walk {r['one_way_s']:.2f} s, "
                       f"its floor {r['one_way_bound_s']:.2f} s)", f"{r['wall_s'] / r['bound_s']:.2f}×",
                       r["wall_s"] <= 1.3 * r["bound_s"]))
    return out


def plan_rows(r: dict[str, Any]) -> list[Row]:
    out = []
    for x in r["sizes"]:
        allowed = x.get("allowed_calls", x["min_calls"])
        out.append(Row(f"plan's live read of {x['resources']} resources: calls", MORE_PAGES,
                       f"{x['live_calls']} (minimum {x['min_calls']}, allowed {allowed}; "
                       f"per-resource GET {x['baseline_calls']})",
                       f"{x['live_calls'] / x['min_calls']:.2f}×", x["live_calls"] <= allowed))
        out.append(Row(f"plan's live read of {x['resources']} resources: wall", "faster than per-resource GET",
                       f"{x['live_s']:.2f} s (per-resource GET {x['baseline_s']:.2f} s)",
                       f"{x['baseline_s'] / x['live_s']:.1f}× faster", x["live_s"] < x["baseline_s"]))
        if "floor_s" in x:
            out.append(Row(f"plan's live read of {x['resources']} resources vs ⌈largest kind/200⌉ × latency",
                           "≤ 1.3× floor", f"{x['live_s']:.2f} s (floor {x['floor_s']:.2f} s, one walk's "
                           f"{x['one_walk_floor_s']:.2f} s; chain {x['chain']} pages)",
                           f"{x['live_s'] / x['floor_s']:.2f}×", x["live_s"] <= 1.3 * x["floor_s"]))
    modes = r.get("cpu", {}).get("modes", {})
    for mode, goal in (("no_secrets", 0.2), ("keyed", 0.2), ("scrypt_cached", 0.2), ("scrypt", None)):
        if mode in modes:
            ms = modes[mode]["ms_per_resource"]
            out.append(Row(f"build_plan CPU per resource, {mode.replace('_', ' ')}",
                           f"< {goal} ms" if goal else "(the cost a guess costs)", f"{ms:.3f} ms",
                           f"{ms / goal:.2f}×" if goal else "—", ms < goal if goal else None))
    return out


def apply_rows(r: dict[str, Any]) -> list[Row]:
    out = []
    naive = r["latency"]["naive"]
    for x in r["latency"]["sizes"]:
        scaled = naive["wall_s"] * x["calls"] / naive["calls"]
        out.append(Row(f"apply {x['resources']} resources at {r['latency']['latency_ms']:g} ms: wall",
                       "≤ 1.20× lower bound", f"{x['wall_s']:.2f} s (bound {x['bound_s']:.2f} s; "
                       f"one at a time ≈ {scaled:.0f} s)", f"{x['wall_s'] / x['bound_s']:.2f}×",
                       x["wall_s"] <= 1.20 * x["bound_s"]))
    if "rate" in r:
        x = r["rate"]
        out.append(Row(f"apply {x['resources']} under {x['count']}/{x['window_s']:g} s: 429s", "0",
                       str(x["rate_limited"]), "—", x["rate_limited"] == 0))
        out.append(Row(f"apply {x['resources']} under {x['count']}/{x['window_s']:g} s: wall", "≤ 1.10× calls / rate",
                       f"{x['wall_s']:.2f} s for {x['calls']} calls", f"{x['wall_s'] / x['ideal_s']:.2f}×",
                       x["wall_s"] <= 1.10 * x["ideal_s"]))
    return out


def share_429(run: dict[str, Any]) -> float:
    return float(run["rate_limited"]) / max(run["requests"], 1)


def contention_rows(r: dict[str, Any]) -> list[Row]:
    what = f"apply {r['resources']} at {r['share']:.0%} beside a client spending {r['other_share']:.0%}"
    alone, together = r["other_alone"], r["other_with_us"]
    return [
        Row(f"{what}: our 429s", "≤ 1 % of our calls", f"{r['ours_429']} of {r['calls']}",
            f"{r['ours_429'] / r['calls']:.2%}", r["ours_429"] <= 0.01 * r["calls"]),
        Row(f"{what}: wall", "≤ 1.15× our calls / our share of the rate",
            f"{r['wall_s']:.2f} s (ideal {r['ideal_s']:.2f} s)", f"{r['wall_s'] / r['ideal_s']:.2f}×",
            r["wall_s"] <= 1.15 * r["ideal_s"]),
        Row(f"{what}: the other client's 429s", "no more than alone",
            f"{together['rate_limited']} of {together['requests']} (alone {alone['rate_limited']} of "
            f"{alone['requests']})", "—", share_429(together) <= share_429(alone)),
    ]


def e2e_rows(r: dict[str, Any]) -> list[Row]:
    out = []
    for x in r["sizes"]:
        keyed = x["plan_nochange_keyed"]
        goal_s = r["goal_plan_s"] if x["resources"] >= 10_000 else None
        out.append(Row(f"`plan`, no changes, {x['resources']} resources, keyed: wall",
                       f"≤ {goal_s:g} s" if goal_s else "—", f"{keyed['wall_s']:.2f} s",
                       f"{keyed['wall_s'] / goal_s:.2f}×" if goal_s else "—",
                       keyed["wall_s"] <= goal_s if goal_s else None))
        out.append(Row(f"`plan`, no changes, {x['resources']} resources, keyed: peak RSS",
                       f"≤ {r['goal_rss_mib']:g} MiB", f"{keyed['max_rss_mib']:.0f} MiB",
                       f"{keyed['max_rss_mib'] / r['goal_rss_mib']:.2f}×", keyed["max_rss_mib"] <= r["goal_rss_mib"]))
    return out


def adopt_rows(r: dict[str, Any]) -> list[Row]:
    n, w = r["objects"], r["writes"]
    return [
        Row(f"adopt {n} hand-made objects (export, plan, apply): writes", "one PATCH each (+ the stack lock)",
            f"PATCH {w['PATCH']}, POST {w['POST']}, DELETE {w['DELETE']}",
            f"{(w['PATCH'] + w['POST'] + w['DELETE']) / n:.2f}×"),
        Row(f"adopt {n} hand-made objects at {r['latency_ms']:g} ms: apply wall", "faster than a GET+PATCH script",
            f"{r['apply_s']:.2f} s (bound {r['bound_s']:.2f} s; script {r['naive_s']:.2f} s)",
            f"{r['naive_s'] / r['apply_s']:.1f}× faster", r["apply_s"] < r["naive_s"]),
    ]


def index_rows(r: dict[str, Any]) -> list[Row]:
    li, c, caps, a, alone = r["listing"], r["compare"], r["caps"], r["apply"], r["alone"]
    ours, n = c["ours"], r["resources"]
    crowd = f"beside {r['stacks']} indexes of {r['entries']:,} entries"
    writes = a["calls"].get("index POST", 0) + a["calls"].get("index PATCH", 0)
    allowed = li.get("allowed_calls", li["min_calls"])
    return [
        Row(f"`plan`, no changes, {n} resources {crowd}: list calls", MORE_PAGES + " (0 for the index)",
            f"{ours['list_calls']} (minimum {li['min_calls']}, allowed {allowed}; "
            f"a GET per index record: +{li['bench_shards'] + 1})",
            f"{ours['list_calls'] / li['min_calls']:.2f}×", ours["list_calls"] <= allowed),
        Row(f"`plan`, no changes, {n} resources, its own index only: wall", f"≤ 1.10× parent {r['parent_commit']}",
            f"{alone['ours']['wall_s']:.2f} s (parent {alone['parent']['wall_s']:.2f} s on an organization it "
            f"seeded; median of {alone['ours']['runs']}; list calls {alone['ours']['list_calls']} vs "
            f"{alone['parent']['list_calls']})", f"{alone['ratio']:.2f}×", alone["ratio"] <= 1.10),
        Row(f"`plan`, no changes, {n} resources {crowd}: wall", f"≤ 1.10× parent {r['parent_commit']}",
            f"{ours['wall_s']:.2f} s (parent {c['parent']['wall_s']:.2f} s, same organization; "
            f"{r['crowding']:.2f}× our plan before those indexes existed)", f"{c['ratio']:.2f}×", c["ratio"] <= 1.10),
        Row(f"largest session-template page, {li['index_records']:,} index records listed", "≤ the 16 MiB default cap",
            f"{caps['max_page_bytes'] / 2**20:.2f} MiB, {caps['max_page_values']:,} JSON values",
            f"{caps['max_page_bytes'] / caps['cap_bytes']:.2f}×", caps["max_page_bytes"] <= caps["cap_bytes"]),
        Row(f"apply of {a['changed']} changes to an index of {a['shards']} shards: index writes",
            "one per changed shard + the head", f"{a['calls'].get('index POST', 0)} shards ({a['touched_shards']} "
            f"changed), {a['calls'].get('index PATCH', 0)} head PATCH(es), "
            f"{a['calls'].get('index DELETE', 0)} archives", f"{writes / (a['touched_shards'] + 1):.2f}×",
            writes <= a["touched_shards"] + 1),
    ]


def startup_rows(r: dict[str, Any]) -> list[Row]:
    """Each command's start-up against the goal, beside the floors it cannot go under and the parent's."""
    goal, out = r["goal_s"], []
    for name, c in r["commands"].items():
        shown = "validate examples/quickstart" if name == "validate" else name
        out.append(Row(f"start-up: `metorial-apply {shown}`, whole process (median of {r['runs']})",
                       f"≤ {goal:g} s", f"{c['ours_s']:.3f} s (parent {r['parent_commit']} {c['parent_s']:.3f} s; "
                       f"floor `python -c pass` {r['floor_s']:.3f} s; click + PyYAML + pydantic "
                       f"{r['libraries_s']:.3f} s)", f"{c['ours_s'] / goal:.2f}×", c["ours_s"] <= goal))
    return out


ROWS = {"e2e": e2e_rows, "startup": startup_rows, "contention": contention_rows, "apply_scale": apply_rows,
        "plan_scale": plan_rows, "list_live": list_rows, "adopt_scale": adopt_rows,
        "index_scale": index_rows}


E2E_COLUMNS = (("validate", "validate"), ("plan_creates", "plan, all creates"),
               ("plan_nochange_keyed", "plan, no changes (keyed)"),
               ("plan_nochange_scrypt", "plan, no changes (scrypt)"),
               ("seed_apply_keyed", "apply, all creates (keyed)"))
PLOT_TITLES = {"apply_wall.png": "Apply wall time against N, with the lower bound",
               "api_calls.png": "API calls to read live state against N: ours and the per-resource-GET baseline",
               "rate_budget.png": "Calls per second and remaining budget over time, sharing the organization's limit",
               "plan_cpu.png": "build_plan CPU per resource by fingerprint mode"}


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)] + ["| " + " | ".join(r) + " |"
                                                                             for r in rows]


def e2e_table(r: dict[str, Any]) -> list[str]:
    rows = []
    for x in r["sizes"]:
        for key, label in E2E_COLUMNS:
            if key in x:
                fig = x[key]
                phases = ", ".join(f"{k} {v:.2f}" for k, v in fig.get("phases_s", {}).items())
                rows.append([f"{x['resources']:,}", label, f"{fig['wall_s']:.2f} s", f"{fig['max_rss_mib']:.0f} MiB",
                             phases or "—"])
    return table(["resources", "command", "wall", "peak RSS", "phases (s, from --stats)"], rows)


def fingerprint_note(r: dict[str, Any]) -> list[str]:
    modes = r.get("cpu", {}).get("modes", {})
    if not modes:
        return []
    cost = {m: f"{v['ms_per_resource']:.3f} ms" for m, v in modes.items()}
    return [
        "## Secret comparison: what it costs and why it is safe", "",
        f"Measured at {r['cpu']['resources']} resources, half with a secret: a plan compares each secret with "
        f"its stamp's fingerprint. With the default scrypt fingerprints that is {cost.get('scrypt')} of CPU per "
        f"resource ({cost.get('scrypt_cached')} once the per-run memo holds it: plan then apply in one run "
        f"pays once); with keyed fingerprints (`metorial-apply keygen`, then "
        f"`METORIAL_APPLY_FINGERPRINT_KEY`) {cost.get('keyed')}; the planner's own work is "
        f"{cost.get('no_secrets')}. `plan` suggests a key when it compared more than 200 scrypt fingerprints.",
        "",
        "Offline guessing is no easier than before: the scrypt parameters (n=2¹², r=8, p=1, a 16-byte random salt "
        "per stamp) are unchanged, and the memo lives only in the process's memory, keyed by (salt, secret), "
        "never written anywhere. Keyed stamps are HMAC-SHA256 under a key the organization's other API keys "
        "never see, so a stamp alone gives a guesser nothing to test against. No keyless scheme can do better: "
        "whoever reads a stamp can run our comparison with a guess in place of the secret, so a keyless "
        "comparison that costs us less per secret costs a guesser less per guess.", ""]


def render(results: dict[str, Any], plots: list[str]) -> str:
    m = results["machine"]
    scale = "quick (`--quick`)" if results["quick"] else "full"
    lines = ["# Benchmarks", "",
             f"Measured by `python -m benchmarks` at the {scale} scale on {m['date']}: {m['cpus']} CPUs "
             f"({m['processor']}), {m['platform']}, Python {m['python']}; load average at the end "
             f"{m['load_at_end'][0]:.2f}. Every figure runs against `metorial-apply emulator serve` over real "
             f"HTTP on 127.0.0.1, started by the benchmark; the end-to-end figures run the CLI as a user does "
             f"(`python -m metorial_apply …` in a child process). The suite took {results['seconds']:.0f} s.", ""]
    if results.get("note"):
        lines += [f"**Note.** {results['note']}", ""]
    rows = [row for name, rows_of in ROWS.items() if name in results and "error" not in results[name]
            for row in rows_of(results[name])]
    lines += ["## Figures", ""] + table(["figure", "goal", "measured", "ratio"],
                                        [[r.figure, r.goal, r.measured, r.shown_ratio()] for r in rows]) + [""]
    if "e2e" in results and "error" not in results["e2e"]:
        e2e = results["e2e"]
        lines += ["## End to end", "", f"Each command as a child process; the emulator adds {e2e['latency_ms']:g} ms "
                  "per request; half the resources carry a secret. Peak RSS is the child's own high-water mark "
                  "(VmHWM, sampled every 20 ms).", ""]
        lines += e2e_table(e2e) + [""]
    lines += HOSTILE.read_text(encoding="utf-8").splitlines() + [""] if HOSTILE.exists() else []
    if "plan_scale" in results and "error" not in results["plan_scale"]:
        lines += fingerprint_note(results["plan_scale"])
    lines += ["## Plots", ""]
    for name in plots:
        lines += [f"### {PLOT_TITLES.get(name, name)}", "", f"![{PLOT_TITLES.get(name, name)}](benchmarks/{name})", ""]
    failed = {k: v["error"] for k, v in results.items() if isinstance(v, dict) and "error" in v}
    if failed:
        lines += ["## Failed", ""] + [f"- {k}: {v}" for k, v in sorted(failed.items())] + [""]
    lines += ["The raw results are in [benchmarks.json](benchmarks.json). Re-run with `python -m benchmarks` "
              "(full) or `python -m benchmarks --quick`.", ""]
    return "\n".join(lines)
