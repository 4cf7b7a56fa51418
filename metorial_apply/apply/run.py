"""apply_plan: run a plan's changes against the API as a dependency-gated, concurrent DAG.

Print-free: progress goes out as events (`on_event`), API calls and finished changes to an
optional journal, and the outcome comes back as an ApplyReport.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from graphlib import CycleError
from typing import Any, Protocol

from metorial_apply.apply.calls import ApiClient
from metorial_apply.apply.execute import Executor, StepDone
from metorial_apply.apply.ids import IdMap, KeyRing
from metorial_apply.apply.report import ApplyReport, ChangeResult
from metorial_apply.apply.schedule import NodeResult, Outcome, run_graph
from metorial_apply.apply.steps import Step, build_steps
from metorial_apply.core.errors import MetorialApplyError, PlanError
from metorial_apply.core.fingerprint import FingerprintKey
from metorial_apply.core.model import Address, Catalog
from metorial_apply.planning.plan import Plan


@dataclass(frozen=True)
class ChangeStarted:
    """A change's first API work began."""

    address: Address
    action: str
    total: int


@dataclass(frozen=True)
class ChangeFinished:
    """A change ended (done, failed or skipped); `index` counts finished changes from 1."""

    result: ChangeResult
    index: int
    total: int


ApplyEvent = ChangeStarted | ChangeFinished


class JournalSink(Protocol):
    """Where apply_plan reports change boundaries (see journal.Journal)."""

    def change_started(self, address: Address, action: str) -> None: ...

    def change_finished(self, result: ChangeResult) -> None: ...


def error_text(exc: BaseException) -> str:
    """The report's text for a failure. Only our own errors are shown verbatim (they are built
    never to hold secrets); anything else is a bug whose message might carry values."""
    if isinstance(exc, MetorialApplyError):
        return str(exc)
    return f"internal error ({type(exc).__name__})"


@dataclass
class _Tracker:
    """Folds step results into one result per change, emitting events as changes start and end."""

    steps: dict[Address, list[Step]]
    on_event: Callable[[ApplyEvent], None] | None
    journal: JournalSink | None
    started: dict[Address, float] = field(default_factory=dict)
    ended: dict[Address, list[NodeResult[Step]]] = field(default_factory=dict)
    results: dict[Address, ChangeResult] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.steps)

    def start(self, step: Step) -> None:
        if step.address in self.started:
            return
        self.started[step.address] = time.monotonic()
        if self.journal:
            self.journal.change_started(step.address, _action(step))
        if self.on_event:
            self.on_event(ChangeStarted(step.address, _action(step), self.total))

    def finish(self, result: NodeResult[Step]) -> None:
        address = result.node.address
        self.ended.setdefault(address, []).append(result)
        if len(self.ended[address]) < len(self.steps[address]):
            return
        began = self.started.get(address)
        change = _fold(self.steps[address], self.ended[address], time.monotonic() - began if began else 0.0)
        self.results[address] = change
        if self.journal:
            self.journal.change_finished(change)
        if self.on_event:
            self.on_event(ChangeFinished(change, len(self.results), self.total))


def _action(step: Step) -> str:
    return step.change.action.value


def _fold(steps: list[Step], ended: list[NodeResult[Step]], duration: float) -> ChangeResult:
    """One change's result from its one or two step results."""
    step = steps[0]
    base = {"address": step.address, "action": _action(step), "duration_s": duration}
    failed = [r for r in ended if r.outcome is Outcome.FAILED]
    if failed:
        return ChangeResult(outcome=Outcome.FAILED, error=error_text(failed[0].error or Exception()), **base)
    skipped = [r for r in ended if r.outcome is Outcome.SKIPPED]
    if skipped:
        causes = [r.cause.address for r in skipped if r.cause is not None and r.cause.address != step.address]
        return ChangeResult(outcome=Outcome.SKIPPED, cause=causes[0] if causes else None, **base)
    up = next((r.value for r in ended if r.node.phase == "up"), None)
    down = next((r.value for r in ended if r.node.phase == "down"), None)
    done: StepDone | None = up or down
    notes = "; ".join(sorted({d.note for d in (up, down) if d is not None and d.note}))
    old_id = down.id if up is not None and down is not None else None
    return ChangeResult(outcome=Outcome.DONE, id=done.id if done else None, old_id=old_id, note=notes, **base)


def execution_graph(plan: Plan) -> dict[Step, set[Step]]:
    """The plan's step graph; a cycle is a planner bug, reported without touching the API."""
    graph = build_steps(plan)
    try:
        from graphlib import TopologicalSorter

        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        cycle = " → ".join(f"{s.address}({s.phase})" for s in exc.args[1])
        raise PlanError(f"the plan's changes depend on each other in a cycle: {cycle}") from None
    return graph


async def apply_plan(
    plan: Plan, client: ApiClient, *, catalog: Catalog | None = None, parallelism: int = 8, fail_fast: bool = False,
    journal: JournalSink | None = None,
    on_event: Callable[[ApplyEvent], None] | None = None,
    cancel: asyncio.Event | None = None,
    fingerprint_key: FingerprintKey | None = None,
    keys: KeyRing | None = None,
    run: str | None = None,
) -> ApplyReport:
    """Make the plan's API calls in dependency order, at most `parallelism` at a time, each on
    the API its kind belongs to (`keys`: the key backends' clients). Never raises for a failed
    change (the report carries it, and its ledger what was written); raises PlanError for a plan
    that cannot be ordered. `cancel` stops scheduling (in-flight calls finish); `fingerprint_key`
    keys new secret stamps (hmac, not scrypt); `run` is the id every stamp carries."""
    graph = execution_graph(plan)
    executor = Executor(client=client, ids=IdMap.from_plan(plan, catalog), stack=plan.stack, key=fingerprint_key,
                        keys=(keys or KeyRing()).seeded(plan), run_id=run)
    by_address: dict[Address, list[Step]] = {}
    for step in sorted(graph, key=Step.order):
        by_address.setdefault(step.address, []).append(step)
    tracker = _Tracker(by_address, on_event, journal)
    cancel = cancel or asyncio.Event()
    began = time.monotonic()
    apis = (client, *executor.keys.clients.values())
    calls_before = _stats(*apis)
    # One fingerprint thread per core (they run at the lowest priority): at a high parallelism,
    # two threads' scrypt throughput, not the API, bounded how fast secret creates could start.
    executor.prepare(sorted(graph, key=Step.order), threads=max(2, min(parallelism, os.cpu_count() or 2)))
    try:
        await run_graph(graph, executor.run, parallelism=parallelism, fail_fast=fail_fast, cancel=cancel,
                        order=Step.order, gate=executor.gate, on_start=tracker.start, on_result=tracker.finish)
    finally:
        executor.discard()
    order = {c.address: i for i, c in enumerate(plan.changes)}
    results = tuple(sorted(tracker.results.values(), key=lambda r: order.get(r.address, len(order))))
    failed = any(r.outcome is Outcome.FAILED for r in results)
    unstarted = any(r.outcome is Outcome.SKIPPED and r.cause is None for r in results)
    stopped = "interrupted" if cancel.is_set() else ("fail-fast" if fail_fast and failed and unstarted else None)
    return ApplyReport(stack=plan.stack, results=results, elapsed_s=time.monotonic() - began, stopped=stopped,
                       stats=_delta(calls_before, _stats(*apis)), ledger=executor.ledger)


def _stats(*clients: Any) -> dict[str, Any]:
    """Calls, retries and 429s summed over every API the run talks to (Metorial and key backends)."""
    out: dict[str, Any] = {}
    for stats in (getattr(c, "stats", None) for c in clients):
        if stats is not None:
            for name in ("calls", "retries", "rate_limited"):
                out[name] = out.get(name, 0) + getattr(stats, name)
    return out


def _delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: after[k] - before.get(k, 0) for k in after}
