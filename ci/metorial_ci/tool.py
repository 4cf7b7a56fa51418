"""Running `metorial-apply`: the workspace's units, plans saved per unit, saved plans applied.
Its output goes straight to the job log (the tool scrubs secrets from it); only `stacks --json`
and `show` are captured, as data."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOOL = "metorial-apply"
DESTRUCTIVE_ACTIONS = ("delete", "replace", "takeover", "rotate")


@dataclass(frozen=True)
class Unit:
    """One stack × environment of the workspace, as `metorial-apply stacks --json` lists it."""

    name: str
    file: str  # the name with `/` as `.`: per-unit file names
    stack: str
    api_url_env: str
    api_key_env: str

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Unit:
        return cls(name=item["name"], file=item["file"], stack=item["stack"], api_url_env=item.get("api_url_env") or "",
                   api_key_env=item.get("api_key_env") or "")


def run(args: list[str], env: dict[str, str] | None = None) -> int:
    print(f"$ {TOOL} {shlex.join(args)}", flush=True)
    return subprocess.run([TOOL, *args], env=env, check=False).returncode


def capture(args: list[str]) -> str:
    done = subprocess.run([TOOL, *args], capture_output=True, text=True, check=False)
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"metorial-ci: `{TOOL} {shlex.join(args)}` failed ({done.returncode})")
    return done.stdout


def units(selection: list[str]) -> list[Unit]:
    return [Unit.from_json(item) for item in json.loads(capture(["stacks", *selection, "--json"]))["include"]]


def unit_env(unit: Unit, api_url: str, api_key: str) -> dict[str, str]:
    """The environment for a job that got one unit's URL and key under generic names (a matrix
    job: GitHub cannot name an env variable by expression), exported under the unit's own names,
    which is where `metorial-apply plan NAME` looks."""
    env = dict(os.environ)
    if api_url:
        env[unit.api_url_env or "METORIAL_API_URL"] = api_url
    if api_key:
        env[unit.api_key_env or "METORIAL_API_KEY"] = api_key
    return env


def plan(selection: list[str], out_dir: Path, markdown: Path, rate_limit: str = "",
         env: dict[str, str] | None = None) -> int:
    """0 no changes · 2 changes · 3 deletes or replaces · 1 a unit failed (its error is in the
    Markdown, which the tool writes even then)."""
    args = ["plan", *selection, "--out-dir", str(out_dir), "--markdown", str(markdown), "--detailed-exitcode"]
    if rate_limit and plan_takes_rate_limit():
        args += ["--rate-limit", rate_limit]
    elif rate_limit:
        print(f"metorial-ci: warning: this {TOOL}'s plan has no --rate-limit: the share {rate_limit} is not "
              "enforced for plans (parallel plan jobs may meet the organization's limit)", flush=True)
    return run(args, env)


def plan_takes_rate_limit() -> bool:
    """Whether `plan` takes --rate-limit (apply always has): asked, since the action may install
    a release from before plan had it, and a job must not fail for a budget it cannot set."""
    return "--rate-limit" in capture(["plan", "--help"])


def saved_plan(out_dir: Path, unit: Unit) -> dict[str, Any] | None:
    path = out_dir / f"{unit.file}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def exit_of(saved: dict[str, Any]) -> int:
    """What `plan --detailed-exitcode` said of a saved plan: 0 none · 2 changes · 3 deletes,
    replaces, takeovers or rotations. The saved file has no `exit_code` (`plan --json` has), so
    it is read from `summary` with the classes of metorial_apply/planning/action.py."""
    if "exit_code" in saved:
        return int(saved["exit_code"])
    summary = saved["summary"]
    if any(summary.get(action) for action in DESTRUCTIVE_ACTIONS):
        return 3
    return 2 if any(n for action, n in summary.items() if action != "noop") else 0


def markdown_of(out_dir: Path, unit: Unit) -> str:
    """One unit's plan as Markdown, rendered offline from its saved plan."""
    return capture(["show", str(out_dir / f"{unit.file}.json"), "--format", "markdown"])


def api_env(unit: Unit) -> dict[str, str]:
    """`apply plan.json` reads METORIAL_API_URL/KEY: map the unit's own variables onto them."""
    env = dict(os.environ)
    for named, generic in ((unit.api_url_env, "METORIAL_API_URL"), (unit.api_key_env, "METORIAL_API_KEY")):
        if named and not env.get(named):
            raise SystemExit(f"metorial-ci: {named} is not set (unit {unit.name})")
        if named:
            env[generic] = env[named]
    return env


def apply_saved(out_dir: Path, unit: Unit, allow_delete: bool) -> int:
    # The stack is never taken from the (untrusted) file: apply is told it again.
    args = ["apply", str(out_dir / f"{unit.file}.json"), "--stack", unit.stack, "--auto-approve",
            "--journal", str(out_dir / f"{unit.file}.jsonl")]
    return run(args + (["--allow-delete"] if allow_delete else []), api_env(unit))
