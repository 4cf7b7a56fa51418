"""One plan run, shared by `plan` of a path and of workspace stacks: load → session → plan,
the saved-plan and render context, atomic files and the exit code."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from metorial_apply.api.live import LiveRead
from metorial_apply.cli.output import Output
from metorial_apply.cli.planfile import apply_flags
from metorial_apply.cli.safety import blocked_by
from metorial_apply.cli.session import Session, fresh_plan, load_desired, session, state_dir_for
from metorial_apply.core.errors import Diagnostic
from metorial_apply.core.kinds import METORIAL_KINDS, sort_key
from metorial_apply.core.scrub import SECRETS
from metorial_apply.core.state import State
from metorial_apply.planning.action import exit_code as action_exit_code
from metorial_apply.planning.blind import without_secrets
from metorial_apply.planning.plan import Plan
from metorial_apply.planning.safety import Blocked
from metorial_apply.planning.saved import plan_to_dict
from metorial_apply.render import RenderContext, RenderStats

STDOUT = Path("-")
EXIT_OK, EXIT_CHANGES, EXIT_DESTRUCTIVE = 0, 2, 3


@dataclass
class Phases:
    """Wall time per phase, for --stats."""

    seconds: dict[str, float] = field(default_factory=dict)
    _start: float = field(default_factory=time.perf_counter)

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._start
        self._start = now


@dataclass
class Planned:
    """Everything a plan run produced, for the output step."""

    plan: Plan
    desired: State
    read: LiveRead
    api_url: str
    stats: dict[str, Any]
    list_calls: int
    live_seconds: float
    blocked: tuple[Blocked, ...] = ()  # what an apply with plan's gate flags would refuse
    live_chain: int = 0  # the live read's longest run of pages that waited for one another


async def make_plan(path: Path, args: dict[str, Any], phases: Phases, out: Output) -> Planned:
    absent: list[Diagnostic] | None = [] if args["no_secrets"] else None
    desired = load_desired(path, args, warnings=absent, key_credentials=False)  # keys then come from the index
    for warning in absent or []:
        out.echo(f"Warning: {warning}", err=True)
    phases.lap("load")
    async with session(desired, state_dir_for(path), args, None, on_phase=phases.lap) as s:
        plan = blind_plan(s, args, path) if args["no_secrets"] else fresh_plan(s, args, path)
        phases.lap("plan")
    return Planned(plan, s.desired, s.read, s.client.base_url, s.client.stats.as_dict(), s.list_calls, s.live_seconds,
                   blocked_by(plan, s.desired, args, out), s.live_chain)


def blind_plan(s: Session, args: dict[str, Any], path: Path) -> Plan:
    """`--no-secrets`: the plan with no secret compared, a note on each resource left out."""
    desired, notes = without_secrets(s.desired, s.read.state)
    plan = fresh_plan(replace(s, desired=desired), args, path)
    notes = tuple(sorted((*plan.notes, *notes), key=lambda n: sort_key(n.address)))
    return plan.model_copy(update={"notes": notes, "desired_digest": ""})  # no digest: `apply` refuses it


def write_atomic(target: Path, text: str) -> None:
    """Write via a temporary file in the same directory, then rename: never a partial file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(SECRETS.scrub(text))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def exit_code(plan: Plan) -> int:
    """--detailed-exitcode: the highest class among the plan's actions (planning/action.py)."""
    return action_exit_code(c.action for c in plan.changes)


def context_for(run: Planned, args: dict[str, Any]) -> RenderContext:
    out_path = args["out"]
    saved = plan_to_dict(run.plan, key=args.get("fingerprint_key")) if out_path else None
    return RenderContext(
        api_url=run.api_url, config_path=run.plan.config_path,
        stats=RenderStats(kinds=len(METORIAL_KINDS), list_calls=run.list_calls, seconds=run.live_seconds,
                          api_calls=run.stats.get("calls")),
        plan_checksum=saved["checksum"] if saved else None,
        saved_plan=str(out_path) if out_path else None,
        full_plan_hint=str(out_path) if out_path else None, apply_flags=apply_flags(run.plan.inputs, args),
        blocked=run.blocked, no_secrets=bool(args.get("no_secrets")),
    )


def stats_lines(run: Planned, phases: Phases) -> list[str]:
    s = run.stats
    by_kind = ", ".join(f"{k} {v}" for k, v in s.get("by_kind", {}).items()) or "none"
    times = ", ".join(f"{k} {v:.3f} s" for k, v in phases.seconds.items())
    return [
        f"API calls: {s.get('calls', 0)} ({by_kind}); pages {s.get('pages', 0)}; retries {s.get('retries', 0)}; "
        f"429s {s.get('rate_limited', 0)}",
        f"Live read: {run.list_calls} list calls for {len(METORIAL_KINDS)} kinds (each from both ends), "
        f"longest chain {run.live_chain} page{'' if run.live_chain == 1 else 's'}, {run.read.objects} objects, "
        f"{len(run.read.state)} in stack {run.plan.stack}",
        f"Time: {times}; total {sum(phases.seconds.values()):.3f} s",
    ]
