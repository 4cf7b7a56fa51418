"""The execution graph built from real plans (build_plan): it has exactly the plan's edges and
none of its own, and every schedule it allows respects references on the way up and releases
on the way down, and a replace creates before it deletes. (tests/apply/test_ordering.py shows,
against the emulator, what goes wrong when one kind of edge is missing.)"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from metorial_apply.apply.run import execution_graph
from metorial_apply.apply.schedule import run_graph
from metorial_apply.apply.steps import Step, build_steps
from metorial_apply.core.errors import PlanError
from metorial_apply.core.kinds import KINDS
from metorial_apply.core.model import Address
from metorial_apply.planning.plan import Action, Plan, build_plan
from metorial_apply.planning.saved import load_saved_plan, plan_to_json
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


def refs(spec: dict | None, kind: str) -> set[Address]:
    """What a spec references, straight from the kinds registry: the oracle, not the plan."""
    return set() if spec is None else {address for _, address in KINDS[kind].references(spec)}


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
    new_ids = {c.address for c in plan.changes if c.action in (Action.CREATE, Action.REPLACE)}
    for step, (start, _) in times.items():
        change = step.change
        if step.phase == "up" and change.desired is not None:
            for r in refs(change.desired.spec, step.address.kind) & new_ids:
                if (r, "up") in steps:
                    assert times[steps[(r, "up")]][1] < start, f"{step} started before {r} was up"
        if step.phase == "down":
            if change.action is Action.REPLACE:
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


def edges_of(graph: dict[Step, set[Step]]) -> set[tuple[str, str, str, str]]:
    return {(str(s.address), s.phase, str(w.address), w.phase) for s, waits in graph.items() for w in waits}


@pytest.mark.parametrize("name", sorted(scenarios()))
def test_every_step_edge_is_one_the_plan_names(name: str) -> None:
    plan = scenarios()[name]
    graph = build_steps(plan)
    for step, waits in graph.items():
        change = step.change
        for w in waits:
            if w.address == step.address:  # the two halves of one replace
                assert (step.phase, change.replace_mode) == ("down", "create_first"), (step, w)
            elif step.phase == "down" and change.action is Action.REPLACE:
                assert w.address in change.delete_after, (step, w)
            else:
                assert w.address in change.depends_on, (step, w)


@pytest.mark.parametrize("name", sorted(scenarios()))
def test_a_plan_without_edges_gives_a_graph_without_edges(name: str) -> None:
    plan = scenarios()[name]
    bare = plan.model_copy(update={"changes": tuple(
        c.model_copy(update={"depends_on": (), "delete_after": (), "replace_mode": None}) for c in plan.changes)})
    graph = build_steps(bare)
    assert {(s.address, s.phase) for s in graph} == {(s.address, s.phase) for s in build_steps(plan)}
    assert all(not waits for waits in graph.values()), "steps added an edge the plan does not name"


@pytest.mark.parametrize("name", sorted(scenarios()))
def test_a_saved_plan_runs_in_the_same_order(name: str) -> None:
    plan = scenarios()[name]
    assert edges_of(build_steps(load_saved_plan(plan_to_json(plan)))) == edges_of(build_steps(plan))


def test_every_replace_the_planner_makes_is_create_first() -> None:
    changes = [c for p in scenarios().values() for c in p.changes]
    replaces = [c for c in changes if c.action is Action.REPLACE]
    assert replaces and all(c.replace_mode == "create_first" for c in replaces)
    assert all(c.replace_mode is None for c in changes if c.action is not Action.REPLACE)


def test_replace_of_a_config_repoints_the_template_between_create_and_delete() -> None:
    graph = execution_graph(scenarios()["replace-config"])
    assert edges_of(graph) == {
        ("session_template.support", "up", "config.github-prod", "up"),
        ("config.github-prod", "down", "config.github-prod", "up"),
        ("config.github-prod", "down", "session_template.support", "up"),
    }


def test_replace_of_a_deployment_deletes_the_old_one_after_its_dependents_let_go() -> None:
    edges = edges_of(execution_graph(scenarios()["replace-deployment"]))
    down = {(w, p) for s, phase, w, p in edges if (s, phase) == ("deployment.github", "down")}
    # the config's and auth config's old halves are deleted (they are replaced), the template repointed
    assert down == {("deployment.github", "up"), ("config.github-prod", "down"),
                    ("auth_config.github-oauth", "down"), ("session_template.support", "up")}
    assert ("config.github-prod", "up", "deployment.github", "up") in edges


def test_deletes_wait_for_dependents() -> None:
    assert edges_of(execution_graph(scenarios()["delete"])) == {
        ("config.github-prod", "down", "session_template.support", "down"),
        ("auth_config.github-oauth", "down", "session_template.support", "down"),
        ("deployment.github", "down", "config.github-prod", "down"),
        ("deployment.github", "down", "auth_config.github-oauth", "down"),
        ("deployment.github", "down", "session_template.support", "down"),
    }


def test_a_delete_first_replace_deletes_the_old_object_before_creating_the_new_one() -> None:
    plan = scenarios()["replace-config"]
    flipped = tuple(c.model_copy(update={"replace_mode": "delete_first", "delete_after": ()})
                    if c.action is Action.REPLACE else c for c in plan.changes)
    edges = edges_of(build_steps(plan.model_copy(update={"changes": flipped})))
    assert ("config.github-prod", "up", "config.github-prod", "down") in edges
    assert ("config.github-prod", "down", "config.github-prod", "up") not in edges


def test_a_delete_first_replace_its_dependents_wait_for_is_a_cycle_not_a_hang() -> None:
    plan = scenarios()["replace-config"]
    flipped = tuple(c.model_copy(update={"replace_mode": "delete_first"}) if c.action is Action.REPLACE else c
                    for c in plan.changes)
    with pytest.raises(PlanError, match="cycle"):
        execution_graph(plan.model_copy(update={"changes": flipped}))


def test_a_delete_waits_for_the_old_half_of_a_replaced_dependent() -> None:
    have = [live(r) for r in basic()[:2]]  # deployment.github ← config.github-prod
    gitlab = desired("deployment", "gitlab", {"provider": "github"})
    moved = desired("config", "github-prod", {"deployment": "gitlab", "value": {"token": "x"}})
    edges = edges_of(execution_graph(build_plan(state(gitlab, moved), state(*have))))
    assert edges == {
        ("config.github-prod", "up", "deployment.gitlab", "up"),
        ("config.github-prod", "down", "config.github-prod", "up"),
        ("deployment.github", "down", "config.github-prod", "down"),
    }


def test_the_graph_of_a_large_destroy_is_linear_in_the_plan() -> None:
    # The graph used to rescan every change's live refs for every delete: 2000 deletes took
    # ~20 s of CPU. Reading the plan's edges is linear (~20 ms here); 2 s leaves room for a loaded machine.
    deployments = [desired("deployment", f"d{i}", {"provider": "github"}) for i in range(1000)]
    templates = [desired("session_template", f"t{i}", {"providers": [{"deployment": f"d{i}"}]}) for i in range(1000)]
    plan = build_plan(state(), state(*[live(r) for r in deployments + templates]))
    started = time.process_time()
    graph = execution_graph(plan)
    assert time.process_time() - started < 2.0
    assert len(graph) == 2000 and sum(len(w) for w in graph.values()) == 1000
