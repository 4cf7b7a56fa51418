"""The DAG runner keeps its slots busy: a finished node's slot is refilled in the same loop
step, and a node whose gate (e.g. its secret's fingerprint) is pending never holds a slot."""

from __future__ import annotations

import asyncio

import pytest

from metorial_apply.apply.schedule import Outcome, run_graph

pytestmark = pytest.mark.anyio


async def test_a_dependent_starts_in_the_same_loop_step_its_dependency_ends() -> None:
    ticks, seen = [0], {}

    async def ticker() -> None:
        while True:
            ticks[0] += 1
            await asyncio.sleep(0)

    async def run(node: str) -> None:
        seen[node + ">"] = ticks[0]
        await asyncio.sleep(0.001)
        seen["<" + node] = ticks[0]

    clock = asyncio.ensure_future(ticker())
    try:
        await run_graph({"a": set(), "b": {"a"}, "c": {"b"}}, run, parallelism=1)
    finally:
        clock.cancel()
    assert seen["b>"] == seen["<a"] and seen["c>"] == seen["<b"]


async def test_a_node_waiting_for_its_gate_leaves_the_slot_to_ready_nodes() -> None:
    loop = asyncio.get_running_loop()
    stamp: asyncio.Future[str] = loop.create_future()
    loop.call_later(0.03, stamp.set_result, "ok")
    started: list[str] = []

    async def run(node: str) -> str:
        started.append(node)
        await asyncio.sleep(0.005)
        return await stamp if node == "a" else node

    results = await run_graph({"a": set(), "b": set(), "c": set()}, run, parallelism=1, order=lambda n: n,
                              gate=lambda n: stamp if n == "a" else None)
    assert started == ["b", "c", "a"]  # a is first in order, but b and c used the slot meanwhile
    assert results["a"].value == "ok"


async def test_a_failed_gate_still_runs_the_node_which_meets_the_failure() -> None:
    loop = asyncio.get_running_loop()
    stamp: asyncio.Future[str] = loop.create_future()
    loop.call_later(0.01, stamp.set_exception, ValueError("no salt"))

    async def run(node: str) -> str:
        return await stamp

    results = await run_graph({"a": set(), "b": {"a"}}, run, gate=lambda n: stamp if n == "a" else None)
    assert results["a"].outcome is Outcome.FAILED and str(results["a"].error) == "no salt"
    assert results["b"].outcome is Outcome.SKIPPED and results["b"].cause == "a"


async def test_cancel_while_every_node_waits_for_its_gate_starts_nothing() -> None:
    loop = asyncio.get_running_loop()
    stamp: asyncio.Future[str] = loop.create_future()
    cancel = asyncio.Event()
    loop.call_later(0.01, cancel.set)
    started: list[str] = []

    async def run(node: str) -> None:
        started.append(node)

    results = await run_graph({"a": set(), "b": set()}, run, cancel=cancel, gate=lambda n: stamp)
    assert started == [] and {r.outcome for r in results.values()} == {Outcome.SKIPPED}
    stamp.cancel()
