"""The execution graph built from real plans (build_plan): every schedule it allows respects
references on the way up and releases on the way down, and a replace creates before it deletes."""

from __future__ import annotations

import asyncio
import random

import pytest

from metorial_apply.apply.run import execution_graph
from metorial_apply.apply.schedule import run_graph
from metorial_apply.apply.steps import Step, refs
from metorial_apply.planning.plan import Action, Plan, build_plan
from tests.plan.factory import basic, desired, live, state

pytestmark = pytest.mark.anyio


def scenarios() -> dict[str, Plan]:
    want = basic()
    have = [live(r) for r in want]
    moved_cfg = [desired("config", "github-prod", {"deployment": "github", "value": {"token": "other"}})]
    new_provider = [desired("deployment", "github", {"provider": "linear", "description": "GitHub tools"})]
    swap = {r.address: r for r in want}
    return {
        "create": build_plan(state(*want), state()),
        "delete": build_plan(state(), state(*have)),
        "replace-config": build_plan(state(*{**swap, moved_cfg[0].address: moved_cfg[0]}.values()), state(*have)),
        "replace-deployment": build_plan(
            state(*{**swap, new_provider[0].address: new_provider[0]}.values()), state(*have)
        ),
        "drop-template": build_plan(state(*want[:3]), state(*have)),
    }


async def schedule(graph: dict[Step, set[Step]], seed: int, parallelism: int) -> dict[Step, tuple[int, int]]:
    """Run the graph with random durations; return (start tick, end tick) per step."""
    rng, tick, times = random.Random(seed), [0], {}

    async def run(step: Step) -> None:
        tick[0] += 1
        start = tick[0]
        await asyncio.sleep(rng.random() / 1000)
        tick[0] += 1
        times[step] = (start, tick[0])

    await run_graph(graph, run, parallelism=parallelism, order=lambda s: rng.random())
    return times


def check(plan: Plan, times: dict[Step, tuple[int, int]]) -> None:
    steps = {(s.address, s.phase): s for s in times}
    for step, (start, _) in times.items():
        change = step.change
        if step.phase == "up" and change.desired is not None:
            for r in refs(change.desired.spec, step.address.kind):
                if (r, "up") in steps:
                    assert times[steps[(r, "up")]][1] < start, f"{step} started before {r} was up"
        if step.phase == "down":
            if change.action is Action.REPLACE and change.replace_mode != "delete_first":
                assert times[steps[(step.address, "up")]][1] < start, f"{step}: old deleted before new created"
            for other in plan.changes:
                if other.live is None or other.address == step.address:
                    continue
                if step.address in refs(other.live.spec, other.address.kind):
                    release = steps.get((other.address, "down")) or steps.get((other.address, "up"))
                    assert release is not None, f"{other.address} still references {step.address}"
                    assert times[release][1] < start, f"{step} ran before {other.address} let go of it"


@pytest.mark.parametrize("name", sorted(scenarios()))
@pytest.mark.parametrize("parallelism", [1, 8])
async def test_every_schedule_of_the_graph_is_safe(name: str, parallelism: int) -> None:
    plan = scenarios()[name]
    graph = execution_graph(plan)
    assert graph, name
    for seed in range(10):
        times = await schedule(graph, seed, parallelism)
        assert len(times) == len(graph)
        check(plan, times)


def test_replace_of_a_config_repoints_the_template_between_create_and_delete() -> None:
    plan = scenarios()["replace-config"]
    graph = execution_graph(plan)
    by = {(str(s.address), s.phase): s for s in graph}
    assert by[("config.github-prod", "down")].change.action is Action.REPLACE
    template = by[("session_template.support", "up")]
    assert by[("config.github-prod", "up")] in graph[template]
    assert template in graph[by[("config.github-prod", "down")]]


def test_deletes_wait_for_dependents() -> None:
    graph = execution_graph(scenarios()["delete"])
    by = {str(s.address): s for s in graph}
    assert by["session_template.support"] in graph[by["config.github-prod"]]
    assert by["config.github-prod"] in graph[by["deployment.github"]]
