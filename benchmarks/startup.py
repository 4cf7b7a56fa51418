"""Start-up: `metorial-apply --version` and an offline `validate` of the quickstart as whole
processes (a child `python -m metorial_apply …`, the way a user or a CI step starts it), each the
median of RUNS; goal ≤ 0.25 s each.

Beside them, in the same rounds: the physical floor (`python -c pass`, the interpreter alone), the
libraries no offline validate can do without (click, PyYAML and pydantic with one model built,
nothing of ours),
and the same commands from PARENT, the commit before start-up was made lazy (`git archive`,
compiled like ours). The rounds alternate who goes first, so a busy neighbour costs every
figure alike. Both trees are byte-compiled first: an installed package runs from .pyc, and this
environment may set PYTHONDONTWRITEBYTECODE.

Run: python benchmarks/startup.py [--runs 7] [--parent COMMIT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cli_runs import cli_env
from emulator_process import REPO
from index_scale import checkout

GOAL_S, RUNS, PARENT = 0.25, 7, "0d8ae70"  # PARENT: the merge before issue 24's start-up work
EXAMPLE = REPO / "examples" / "quickstart"
COMMANDS = {"--version": ["--version"], "validate": ["validate", str(EXAMPLE)]}
# What an offline validate cannot skip: click, PyYAML, and pydantic with one model built (the first
# build imports the rest of pydantic); plugins off, as the CLI runs it.
LIBRARIES = "import click, pydantic, yaml\nclass M(pydantic.BaseModel):\n    x: int\nM(x=1)"


def compile_tree(root: Path) -> None:
    """.pyc beside the sources, as an installed package has them."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "metorial_apply")], check=True,
                   capture_output=True, timeout=300, env=cli_env(None) | {"PYTHONDONTWRITEBYTECODE": ""})


def wall(args: list[str], env: dict[str, str], cwd: Path) -> float:
    """One child process's wall time; it must succeed."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, timeout=60, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{args} exited {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")
    return elapsed


def cases(parent_tree: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Every measured process: name → (arguments, environment)."""
    ours, theirs = cli_env(None), cli_env(None) | {"PYTHONPATH": str(parent_tree)}
    libraries = ours | {"PYDANTIC_DISABLE_PLUGINS": "__all__"}
    out = {"floor": (["-c", "pass"], ours), "libraries": (["-c", LIBRARIES], libraries)}
    for name, args in COMMANDS.items():
        out[f"ours {name}"] = (["-m", "metorial_apply", *args], ours)
        out[f"parent {name}"] = (["-m", "metorial_apply", *args], theirs)
    return out


def measure(parent_tree: Path, work: Path, runs: int) -> dict[str, list[float]]:
    """`runs` rounds of every case (after one unmeasured warm-up round), alternating the order."""
    todo = cases(parent_tree)
    walls: dict[str, list[float]] = {name: [] for name in todo}
    for round_ in range(runs + 1):
        for name in (list(todo) if round_ % 2 else list(todo)[::-1]):
            args, env = todo[name]
            took = wall(args, env, work)
            if round_:
                walls[name].append(took)
    return walls


def run(runs: int = RUNS, parent: str = PARENT) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        parent_tree = checkout(parent, work / "parent")
        compile_tree(REPO)
        compile_tree(parent_tree)
        walls = measure(parent_tree, work, runs)
    med = {name: round(statistics.median(w), 4) for name, w in walls.items()}
    commands = {name: {"ours_s": med[f"ours {name}"], "parent_s": med[f"parent {name}"],
                       "ours_walls": [round(w, 4) for w in walls[f"ours {name}"]],
                       "parent_walls": [round(w, 4) for w in walls[f"parent {name}"]]} for name in COMMANDS}
    return {"runs": runs, "goal_s": GOAL_S, "parent_commit": parent, "floor_s": med["floor"],
            "libraries_s": med["libraries"], "commands": commands}


def show(r: dict[str, Any]) -> None:
    print(f"start-up, median of {r['runs']} processes: floor (python -c pass) {r['floor_s']:.3f} s; "
          f"click + pydantic + PyYAML {r['libraries_s']:.3f} s")
    for name, c in r["commands"].items():
        verdict = "✓" if c["ours_s"] <= r["goal_s"] else "✗ goal missed"
        print(f"  {name}: {c['ours_s']:.3f} s ({c['ours_s'] / r['goal_s']:.2f}× the {r['goal_s']:g} s goal {verdict}); "
              f"parent {r['parent_commit']} {c['parent_s']:.3f} s ({c['parent_s'] / c['ours_s']:.1f}× ours)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--parent", default=PARENT)
    parser.add_argument("--json", action="store_true", help="Print the results as JSON too.")
    a = parser.parse_args()
    r = run(a.runs, a.parent)
    show(r)
    if a.json:
        print(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
