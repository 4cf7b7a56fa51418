"""A dependency-gated, concurrency-capped runner for a DAG of async jobs (stdlib graphlib).

It knows nothing about the API: it starts each node once everything it depends on is done,
never runs more than `parallelism` at a time, skips the dependents of a failed node, and stops
starting nodes on `cancel` (or on the first failure with `fail_fast`).

`parallelism` workers pull from one priority queue of ready nodes. A worker that finishes a
node settles it and takes the next one in the same step, so a slot is refilled at once rather
than after a round trip through a central loop; and a node whose `gate` (work it needs first,
such as a secret's fingerprint) is not done yet waits outside the queue, never in a slot.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from graphlib import TopologicalSorter
from typing import Any, Generic, TypeVar

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


Gate = Callable[[N], "asyncio.Future[Any] | None"]


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


@dataclass
class _Run(Generic[N]):
    """The shared state of one run; only touched from the event loop thread."""

    sorter: TopologicalSorter[N]
    dependents: dict[N, set[N]]
    cancel: asyncio.Event
    order: Callable[[N], Any] | None
    gate: Gate[N] | None
    on_result: Callable[[NodeResult[N]], None] | None
    results: dict[N, NodeResult[N]] = field(default_factory=dict)
    skip: dict[N, N] = field(default_factory=dict)  # node → the failed node that dooms it
    ready: list[tuple[Any, int, N]] = field(default_factory=list)  # heap: (order key, arrival, node)
    arrivals: itertools.count[int] = field(default_factory=itertools.count)
    gated: int = 0  # ready by dependencies, waiting for their gate
    running: int = 0
    stopped: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        """Wake idle workers: something became ready, finished, or the run stopped."""
        self.changed.set()
        self.changed = asyncio.Event()

    def halted(self) -> bool:
        self.stopped |= self.cancel.is_set()
        return self.stopped

    def idle(self) -> bool:
        return not self.ready and not self.running and not self.gated

    def take(self) -> N | None:
        if self.halted() or not self.ready:
            return None
        return heapq.heappop(self.ready)[2]

    def finish(self, result: NodeResult[N]) -> None:
        self.results[result.node] = result
        self.sorter.done(result.node)
        if result.outcome is Outcome.FAILED:
            for doomed in descendants(self.dependents, result.node):
                self.skip.setdefault(doomed, result.node)
        if self.on_result:
            self.on_result(result)

    def collect(self) -> None:
        """Queue newly ready nodes. Doomed ones are settled as skipped at once, which may make
        further (doomed) nodes ready, hence the loop (bounded by the node count). A ready node
        never becomes doomed later: everything it depends on is already done."""
        while fresh := self.sorter.get_ready():
            for node in fresh:
                if node in self.skip:
                    self.finish(NodeResult(node, Outcome.SKIPPED, cause=self.skip[node]))
                else:
                    self.admit(node)

    def admit(self, node: N) -> None:
        pending = self.gate(node) if self.gate else None
        if pending is None or pending.done():
            self.push(node)
            return
        self.gated += 1

        def opened(_: asyncio.Future[Any]) -> None:
            self.gated -= 1
            self.push(node)  # a failed gate too: the node's own run meets the failure
            self.notify()

        pending.add_done_callback(opened)

    def push(self, node: N) -> None:
        key = self.order(node) if self.order else 0
        heapq.heappush(self.ready, (key, next(self.arrivals), node))


async def _call(run: Callable[[N], Awaitable[Any]], node: N) -> NodeResult[N]:
    try:
        return NodeResult(node, Outcome.DONE, value=await run(node))
    except Exception as exc:  # a failed node is data for the report, not a crash
        return NodeResult(node, Outcome.FAILED, error=exc)


async def _work(state: _Run[N], run: Callable[[N], Awaitable[Any]], fail_fast: bool,
                on_start: Callable[[N], None] | None) -> None:
    """One slot: take the best ready node, run it, settle it, repeat; leave when the run is
    over (stopped, or nothing ready, running or gated)."""
    while True:
        node = state.take()
        if node is None:
            if state.halted() or state.idle():
                state.notify()  # let the other idle workers see it too
                return
            await state.changed.wait()
            continue
        if on_start:
            on_start(node)
        state.running += 1
        result = await _call(run, node)
        state.running -= 1
        state.finish(result)
        state.stopped |= fail_fast and result.outcome is Outcome.FAILED
        state.collect()
        state.notify()


async def _watch(state: _Run[N]) -> None:
    await state.cancel.wait()
    state.notify()  # idle workers re-check and leave; busy ones leave after their node


async def run_graph(
    graph: Mapping[N, Iterable[N]],
    run: Callable[[N], Awaitable[Any]],
    *,
    parallelism: int = 8,
    fail_fast: bool = False,
    cancel: asyncio.Event | None = None,
    order: Callable[[N], Any] | None = None,
    gate: Gate[N] | None = None,
    on_start: Callable[[N], None] | None = None,
    on_result: Callable[[NodeResult[N]], None] | None = None,
) -> dict[N, NodeResult[N]]:
    """Run every node of `graph` (node → nodes it depends on) and return how each ended.

    Ready nodes start in `order`; `gate(node)` may return a future the node must wait for
    before it takes a slot. Raises graphlib.CycleError before starting anything on a cycle.
    """
    if parallelism < 1:
        raise ValueError("parallelism must be at least 1")
    sorter: TopologicalSorter[N] = TopologicalSorter(graph)
    sorter.prepare()
    state = _Run(sorter=sorter, dependents=dependents_of(graph), cancel=cancel or asyncio.Event(),
                 order=order, gate=gate, on_result=on_result)
    state.collect()
    watcher = asyncio.ensure_future(_watch(state))
    workers = [asyncio.ensure_future(_work(state, run, fail_fast, on_start)) for _ in range(parallelism)]
    try:
        await asyncio.gather(*workers)
    finally:
        watcher.cancel()
        for worker in workers:  # only still running when this coroutine itself is cancelled
            worker.cancel()
    for node in state.dependents:
        if node not in state.results:  # never started: the run stopped first
            state.results[node] = NodeResult(node, Outcome.SKIPPED, cause=state.skip.get(node))
            if on_result:
                on_result(state.results[node])
    return state.results
