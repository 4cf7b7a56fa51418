"""A dependency-gated, concurrency-capped runner for a DAG of async jobs (stdlib graphlib).

It knows nothing about the API: it starts each node once everything it depends on is done,
never runs more than `parallelism` at a time, skips the dependents of a failed node, and stops
starting nodes on `cancel` (or on the first failure with `fail_fast`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import Enum
from graphlib import TopologicalSorter
from typing import Any, Awaitable, Callable, Generic, Hashable, Iterable, Mapping, TypeVar

N = TypeVar("N", bound=Hashable)


class Outcome(str, Enum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class NodeResult(Generic[N]):
    """How one node ended. A skipped node names the failed node it depends on (`cause`), or
    has no cause when the run stopped (cancel or fail-fast) before it started."""

    node: N
    outcome: Outcome
    value: Any = None
    error: BaseException | None = None
    cause: N | None = None


@dataclass
class _Run(Generic[N]):
    sorter: TopologicalSorter[N]
    dependents: dict[N, set[N]]
    results: dict[N, NodeResult[N]]
    skip: dict[N, N]  # node → the failed node that dooms it
    stopped: bool = False


def dependents_of(graph: Mapping[N, Iterable[N]]) -> dict[N, set[N]]:
    """Reverse adjacency: node → the nodes that depend on it directly."""
    out: dict[N, set[N]] = {}
    for node, deps in graph.items():
        out.setdefault(node, set())
        for dep in deps:
            out.setdefault(dep, set()).add(node)
    return out


def descendants(dependents: Mapping[N, set[N]], node: N) -> set[N]:
    """Every node that depends on `node`, transitively."""
    seen: set[N] = set()
    todo = list(dependents.get(node, ()))
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(dependents.get(current, ()))
    return seen


def _finish(run: _Run[N], result: NodeResult[N], on_result: Callable[[NodeResult[N]], None] | None) -> None:
    run.results[result.node] = result
    run.sorter.done(result.node)
    if result.outcome is Outcome.FAILED:
        for doomed in descendants(run.dependents, result.node):
            run.skip.setdefault(doomed, result.node)
    if on_result:
        on_result(result)


async def _call(run: Callable[[N], Awaitable[Any]], node: N) -> NodeResult[N]:
    try:
        return NodeResult(node, Outcome.DONE, value=await run(node))
    except Exception as exc:  # a failed node is data for the report, not a crash
        return NodeResult(node, Outcome.FAILED, error=exc)


async def run_graph(
    graph: Mapping[N, Iterable[N]],
    run: Callable[[N], Awaitable[Any]],
    *,
    parallelism: int = 8,
    fail_fast: bool = False,
    cancel: asyncio.Event | None = None,
    order: Callable[[N], Any] | None = None,
    on_start: Callable[[N], None] | None = None,
    on_result: Callable[[NodeResult[N]], None] | None = None,
) -> dict[N, NodeResult[N]]:
    """Run every node of `graph` (node → nodes it depends on) and return how each ended.

    Ready nodes start in `order`; raises graphlib.CycleError before starting anything if the
    graph has a cycle.
    """
    if parallelism < 1:
        raise ValueError("parallelism must be at least 1")
    sorter: TopologicalSorter[N] = TopologicalSorter(graph)
    sorter.prepare()
    state = _Run(sorter=sorter, dependents=dependents_of(graph), results={}, skip={})
    cancel = cancel or asyncio.Event()
    waiter = asyncio.ensure_future(cancel.wait())
    running: dict[asyncio.Future[NodeResult[N]], N] = {}
    try:
        await _drive(state, run, running, waiter, cancel, parallelism, fail_fast, order, on_start, on_result)
    finally:
        waiter.cancel()
        for task in running:  # only reached when this coroutine itself is cancelled
            task.cancel()
    for node in state.dependents:
        if node not in state.results:  # never started: the run stopped first
            state.results[node] = NodeResult(node, Outcome.SKIPPED, cause=state.skip.get(node))
            if on_result:
                on_result(state.results[node])
    return state.results


async def _drive(
    state: _Run[N],
    run: Callable[[N], Awaitable[Any]],
    running: dict[asyncio.Future[NodeResult[N]], N],
    waiter: asyncio.Future[Any],
    cancel: asyncio.Event,
    parallelism: int,
    fail_fast: bool,
    order: Callable[[N], Any] | None,
    on_start: Callable[[N], None] | None,
    on_result: Callable[[NodeResult[N]], None] | None,
) -> None:
    ready: list[N] = []
    while state.sorter.is_active():
        ready = _take_ready(state, ready, order, on_result)
        state.stopped |= waiter.done() or cancel.is_set()
        while ready and len(running) < parallelism and not state.stopped:
            node = ready.pop(0)
            if on_start:
                on_start(node)
            running[asyncio.ensure_future(_call(run, node))] = node
        if not running:
            break  # stopped (or, defensively, nothing can start)
        done, _ = await asyncio.wait([*running, waiter], return_when=asyncio.FIRST_COMPLETED)
        for task in [t for t in running if t in done]:
            running.pop(task)
            result = task.result()
            _finish(state, result, on_result)
            state.stopped |= fail_fast and result.outcome is Outcome.FAILED
        state.stopped |= waiter.done()


def _take_ready(
    state: _Run[N], ready: list[N], order: Callable[[N], Any] | None,
    on_result: Callable[[NodeResult[N]], None] | None,
) -> list[N]:
    """Merge newly ready nodes into the queue; doomed nodes are settled as skipped at once,
    which may make further (doomed) nodes ready, hence the loop (bounded by the node count)."""
    queue = list(ready)
    while True:
        queue += state.sorter.get_ready()
        doomed = [n for n in queue if n in state.skip]
        if not doomed:
            return sorted(queue, key=order) if order else queue
        for node in doomed:
            _finish(state, NodeResult(node, Outcome.SKIPPED, cause=state.skip[node]), on_result)
        queue = [n for n in queue if n not in state.skip]
