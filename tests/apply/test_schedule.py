"""The DAG runner: order, concurrency cap, failure skipping, fail-fast and cancellation."""

from __future__ import annotations

import asyncio
from graphlib import CycleError

import pytest

from metorial_apply.apply.schedule import Outcome, dependents_of, descendants, run_graph

pytestmark = pytest.mark.anyio


class Recorder:
    """A fake job runner: records start/finish order and the peak number running at once."""

    def __init__(
        self, fail: set[str] = frozenset(), delay: float = 0.0, delays: dict[str, float] | None = None
    ) -> None:
        self.fail, self.delay, self.delays = fail, delay, delays or {}
        self.started: list[str] = []
        self.finished: list[str] = []
        self.running = 0
        self.peak = 0

    async def __call__(self, node: str) -> str:
        self.started.append(node)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.delays.get(node, self.delay))
            if node in self.fail:
                raise RuntimeError(f"{node} broke")
            return node.upper()
        finally:
            self.running -= 1
            self.finished.append(node)


async def test_dependencies_finish_before_dependents_start() -> None:
    graph = {"c": {"b"}, "b": {"a"}, "d": {"a"}, "a": set()}
    rec = Recorder(delay=0.001)
    results = await run_graph(graph, rec, parallelism=4)
    assert all(r.outcome is Outcome.DONE for r in results.values())
    for node, deps in graph.items():
        for dep in deps:
            assert rec.finished.index(dep) < rec.started.index(node)
    assert results["c"].value == "C"


async def test_concurrency_cap_is_honoured_and_reached() -> None:
    graph = {f"n{i}": set() for i in range(20)}
    rec = Recorder(delay=0.01)
    await run_graph(graph, rec, parallelism=3)
    assert rec.peak == 3
    assert sorted(rec.finished) == sorted(graph)


async def test_parallelism_one_is_serial_in_order() -> None:
    graph = {"b": set(), "a": set(), "c": {"a"}}
    rec = Recorder()
    await run_graph(graph, rec, parallelism=1, order=lambda n: n)
    assert rec.peak == 1
    assert rec.started == ["a", "b", "c"]


async def test_failure_skips_exactly_its_transitive_dependents() -> None:
    # a → b → c, a → d ; x → y (independent); b fails
    graph = {"a": set(), "b": {"a"}, "c": {"b"}, "d": {"a"}, "e": {"c", "d"}, "x": set(), "y": {"x"}}
    rec = Recorder(fail={"b"})
    results = await run_graph(graph, rec, parallelism=2)
    outcome = {n: r.outcome for n, r in results.items()}
    assert outcome == {"a": Outcome.DONE, "b": Outcome.FAILED, "c": Outcome.SKIPPED, "d": Outcome.DONE,
                       "e": Outcome.SKIPPED, "x": Outcome.DONE, "y": Outcome.DONE}
    assert results["c"].cause == "b" and results["e"].cause == "b"
    assert "c" not in rec.started and "e" not in rec.started
    assert str(results["b"].error) == "b broke"


async def test_fail_fast_stops_starting_new_nodes_but_lets_running_finish() -> None:
    graph = {"a": set(), "slow": set(), "later": {"slow"}, "z": {"a"}}
    rec = Recorder(fail={"a"}, delays={"a": 0.0, "slow": 0.05})
    results = await run_graph(graph, rec, parallelism=2, fail_fast=True, order=lambda n: n)
    assert results["a"].outcome is Outcome.FAILED
    assert results["slow"].outcome is Outcome.DONE  # was in flight: allowed to finish
    assert results["later"].outcome is Outcome.SKIPPED and results["later"].cause is None
    assert results["z"].outcome is Outcome.SKIPPED and results["z"].cause == "a"
    assert "later" not in rec.started


async def test_cancel_stops_scheduling_and_in_flight_calls_finish() -> None:
    graph = {f"n{i}": set() for i in range(10)}
    cancel = asyncio.Event()
    rec = Recorder(delay=0.03)

    async def trip() -> None:
        await asyncio.sleep(0.01)
        cancel.set()

    tripper = asyncio.ensure_future(trip())
    results = await run_graph(graph, rec, parallelism=2, cancel=cancel, order=lambda n: n)
    await tripper
    done = [n for n, r in results.items() if r.outcome is Outcome.DONE]
    assert sorted(done) == ["n0", "n1"]  # the two in flight finished, nothing else started
    assert rec.started == ["n0", "n1"] and rec.running == 0
    assert all(results[n].outcome is Outcome.SKIPPED for n in graph if n not in done)


async def test_callbacks_see_every_node_once() -> None:
    graph = {"a": set(), "b": {"a"}, "c": {"b"}}
    starts, ends = [], []
    await run_graph(graph, Recorder(fail={"a"}), on_start=starts.append, on_result=lambda r: ends.append(r.node))
    assert starts == ["a"]
    assert sorted(ends) == ["a", "b", "c"]


async def test_cycle_is_refused_before_anything_runs() -> None:
    rec = Recorder()
    with pytest.raises(CycleError):
        await run_graph({"a": {"b"}, "b": {"a"}}, rec)
    assert rec.started == []


async def test_empty_graph() -> None:
    assert await run_graph({}, Recorder()) == {}


def test_descendants_are_transitive() -> None:
    deps = dependents_of({"b": {"a"}, "c": {"b"}, "d": set()})
    assert descendants(deps, "a") == {"b", "c"}
    assert descendants(deps, "d") == set()
