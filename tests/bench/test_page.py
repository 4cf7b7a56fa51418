"""The benchmark page and plots are drawn from a results dict (a trimmed real --quick run):
every benchmark's figures reach the table, every plot is a PNG, a failed benchmark is listed
as failed and the rest still render, and --render-only redraws from the JSON alone."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import page  # noqa: E402
import plots  # noqa: E402

SAMPLE = Path(__file__).with_name("sample_results.json")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def results() -> dict[str, Any]:
    return json.loads(SAMPLE.read_text())


def test_every_benchmark_reaches_the_table_and_every_plot_is_drawn(results: dict[str, Any], tmp_path: Path) -> None:
    names = plots.draw(results, tmp_path)
    assert sorted(names) == sorted(plots.PLOTS)
    assert all((tmp_path / n).read_bytes().startswith(PNG) for n in names)
    text = page.render(results, names)
    for figure in ("our 429s", "the other client's 429s", "build_plan CPU per resource, keyed",
                   "`plan`, no changes, 1000 resources, keyed: peak RSS", "live read of 1000 resources: API calls",
                   "apply 500 resources at 50 ms: wall", "adopt 300 hand-made objects at 20 ms: apply wall",
                   "start-up: `metorial-apply --version`", "start-up: `metorial-apply validate examples/quickstart`"):
        assert figure in text
    assert results["machine"]["date"] in text and "quick" in text
    assert "## Hostile servers: peak RSS" in text  # measured by a test, kept through every re-render
    assert all(f"(benchmarks/{n})" in text for n in names)
    assert "## Failed" not in text


def test_a_failed_benchmark_is_listed_and_the_others_still_render(results: dict[str, Any], tmp_path: Path) -> None:
    broken = copy.deepcopy(results)
    broken["contention"] = {"error": "RuntimeError: apply failed (1)"}
    names = plots.draw(broken, tmp_path)
    assert "rate_budget.png" not in names and "apply_wall.png" in names
    text = page.render(broken, names)
    assert "- contention: RuntimeError: apply failed (1)" in text and "our 429s" not in text
    assert "apply 500 resources at 50 ms: wall" in text


def test_render_only_redraws_from_the_json(tmp_path: Path) -> None:
    (tmp_path / "benchmarks.json").write_text(SAMPLE.read_text())
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--render-only", "--docs", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "benchmarks.md").read_text().startswith("# Benchmarks")
    assert (tmp_path / "benchmarks" / "plan_cpu.png").read_bytes().startswith(PNG)


def test_a_missed_goal_is_marked_in_words_and_a_met_one_is_not(results: dict[str, Any]) -> None:
    """Issue 23 item 5: the page showed 5 × 429 against a goal of 0 without marking it."""
    results = copy.deepcopy(results)
    rate = results["apply_scale"].setdefault("rate", {"resources": 1000, "count": 500, "window_s": 10.0,
                                                      "calls": 1000, "wall_s": 20.0, "ideal_s": 20.0})
    rate["rate_limited"] = 5
    line = next(x for x in page.render(results, []).splitlines() if ": 429s |" in x and "under" in x)
    assert line.endswith("| 5 | **goal missed** |"), line
    rate["wall_s"] = 1.5 * rate["ideal_s"]
    wall = next(x for x in page.render(results, []).splitlines() if ": wall |" in x and "under" in x)
    assert wall.endswith("| **1.50×: goal missed** |"), wall
    rate["rate_limited"] = 0
    line = next(x for x in page.render(results, []).splitlines() if ": 429s |" in x and "under" in x)
    assert line.endswith("| 0 | — |"), line


def test_start_up_rows_carry_the_floors_the_parent_and_a_missed_goal_plainly(results: dict[str, Any]) -> None:
    rows = {row.figure.split("`")[1]: row for row in page.startup_rows(results["startup"])}
    version, validate = rows["metorial-apply --version"], rows["metorial-apply validate examples/quickstart"]
    assert "floor `python -c pass` 0.051 s" in version.measured and "parent 0d8ae70" in version.measured
    assert version.met is True and version.shown_ratio() == "0.40×"
    slow = copy.deepcopy(results["startup"])
    slow["commands"]["validate"]["ours_s"] = 0.3
    missed = page.startup_rows(slow)[1]
    assert missed.met is False and missed.shown_ratio() == "**1.20×: goal missed**"
    assert validate.met is (results["startup"]["commands"]["validate"]["ours_s"] <= 0.25)
