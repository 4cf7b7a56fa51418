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


@dataclass(frozen=True)
class Unit:
    """One stack × environment of the workspace, as `metorial-apply stacks --json` lists it."""

    name: str
    file: str  # the name with `/` as `.`: per-unit file names
    api_url_env: str
    api_key_env: str

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Unit:
        return cls(name=item["name"], file=item["file"], api_url_env=item.get("api_url_env") or "",
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
    return run(args + (["--rate-limit", rate_limit] if rate_limit else []), env)


def saved_plan(out_dir: Path, unit: Unit) -> dict[str, Any] | None:
    path = out_dir / f"{unit.file}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


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
    args = ["apply", str(out_dir / f"{unit.file}.json"), "--auto-approve",
            "--journal", str(out_dir / f"{unit.file}.jsonl")]
    return run(args + (["--allow-delete"] if allow_delete else []), api_env(unit))
