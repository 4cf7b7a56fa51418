"""The benchmark page's plots, drawn headless (Agg) from the results dict into PNG files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

DPI = 110
MODE_LABELS = {"scrypt": "scrypt (default)", "scrypt_cached": "scrypt, in the per-run memo",
               "keyed": "keyed hmac", "no_secrets": "secrets excluded"}


def _save(fig: Figure, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path.name


def apply_wall(r: dict[str, Any], path: Path) -> str:
    rows = r["latency"]["sizes"]
    n = [x["resources"] for x in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(n, [x["wall_s"] for x in rows], "o-", label="apply (measured)")
    ax.plot(n, [x["bound_s"] for x in rows], "s--", label="lower bound: calls × latency / parallelism")
    naive = r["latency"]["naive"]
    ax.plot(n, [naive["wall_s"] * x["calls"] / naive["calls"] for x in rows], "^:",
            label=f"one change at a time (from {naive['resources']}, scaled)")
    ax.set(xlabel="resources", ylabel="apply phase wall time (s)", yscale="log",
           title=f"Apply at {r['latency']['latency_ms']:.0f} ms latency, parallelism {r['latency']['parallelism']}")
    ax.legend()
    return _save(fig, path)


def api_calls(r: dict[str, Any], path: Path) -> str:
    rows = r["sizes"]
    n = [x["resources"] for x in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(n, [x["min_calls"] for x in rows], "s-", c="C1", lw=6, alpha=0.35, ms=10,
            label="minimum: Σ max(1, ⌈n_kind / 100⌉)")
    ax.plot(n, [x["live_calls"] for x in rows], "o-", c="C0", label="ours: list pages of 100")
    ax.plot(n, [x["baseline_calls"] for x in rows], "^-", label="baseline: list ids, then GET each")
    ax.set(xlabel="resources", ylabel="API calls to read live state", yscale="log", title="Live read: API calls")
    ax.legend()
    return _save(fig, path)


def _per_second(times: list[float]) -> tuple[list[int], list[int]]:
    counts = Counter(int(t) for t in times)
    seconds = list(range(max(counts, default=0) + 1))
    return seconds, [counts.get(s, 0) for s in seconds]


def rate_budget(r: dict[str, Any], path: Path) -> str:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 6), sharex=True)
    other = r["other_log"]
    top.step(*_per_second([t for t, _, _ in other]), where="post", label="the other client")
    top.step(*_per_second(r["ours_ends"]), where="post", label=f"ours (--rate-limit {r['share']:.0%})")
    rate = r["count"] / r["window_s"]
    top.axhline(rate * r["share"], ls="--", c="C1", lw=1, label="our share of the rate")
    top.axhline(rate, ls=":", c="k", lw=1, label="the organization's rate")
    top.set(ylabel="calls per second", title=f"Shared budget: {r['count']} per {r['window_s']:g} s")
    top.legend(fontsize=8, loc="upper right")
    seen = [(t, left) for t, _, left in other if left is not None]
    bottom.plot([t for t, _ in seen], [left for _, left in seen], lw=1)
    bottom.axvspan(r["ours_start_s"], r["ours_start_s"] + r["wall_s"], alpha=0.15, label="our apply")
    bottom.set(xlabel="seconds", ylabel="RateLimit-Remaining", ylim=(0, r["count"]))
    bottom.legend(fontsize=8)
    return _save(fig, path)


def plan_cpu(r: dict[str, Any], path: Path) -> str:
    modes = r["cpu"]["modes"]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    names = [m for m in MODE_LABELS if m in modes]  # a fixed order (the JSON sorts its keys)
    values = [modes[m]["ms_per_resource"] for m in names]
    bars = ax.barh([MODE_LABELS.get(m, m) for m in names], values)
    ax.bar_label(bars, labels=[f"{v:.3f} ms" for v in values], padding=3)
    ax.set(xscale="log", xlabel="build_plan CPU per resource (ms, log)", xlim=(min(values) / 2, max(values) * 5))
    ax.set_title(f"Plan CPU by fingerprint mode\n({r['cpu']['resources']} resources, half with secrets)", fontsize=10)
    ax.invert_yaxis()
    return _save(fig, path)


PLOTS: dict[str, tuple[str, Callable[[dict[str, Any], Path], str]]] = {
    "apply_wall.png": ("apply_scale", apply_wall),
    "api_calls.png": ("plan_scale", api_calls),
    "rate_budget.png": ("contention", rate_budget),
    "plan_cpu.png": ("plan_scale", plan_cpu),
}


def draw(results: dict[str, Any], folder: Path) -> list[str]:
    """Every plot whose benchmark produced results; the file names written."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, (bench, plot) in PLOTS.items():
        r = results.get(bench)
        if r and "error" not in r:
            out.append(plot(r, folder / name))
    return out
