"""Property: for any valid configuration (every kind, tricky strings, odd tool lists, nested
metadata, ${env:} values), a plan after a successful apply is empty — and stays so after a
random mutation (fields edited, resources added and removed, refs and providers changed) is
applied. After each apply, the same configuration written another way (defaults spelled out
or left out, padded names, reordered and repeated lists, providers/methods/versions by id or
identifier) also plans nothing.

Most examples run the planner and applier programmatically against the in-process emulator
(fast); a few go through the real CLI with `--api-url local`. Configurations come from
tests/plan/yamlgen.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metorial_apply.api.catalog import fetch_catalog
from metorial_apply.api.client import MetorialClient, open_client
from metorial_apply.api.live import fetch_live
from metorial_apply.apply.run import apply_plan
from metorial_apply.config.load import load_config
from metorial_apply.config.resolve import resolve_names
from metorial_apply.core.model import Catalog
from metorial_apply.planning.plan import Plan, build_plan
from tests.apply.conftest import run_cli
from tests.plan.yamlgen import ENV, STACK, CatalogIds, configs, dump, equivalent, unprotected

SETTINGS = {"deadline": None, "suppress_health_check": list(HealthCheck), "database": None}


def explain(plan: Plan) -> str:
    """The plan's changes with their diffs (no secrets: diffs of write-only values are redacted)."""
    lines = []
    for change in plan.actionable():
        lines.append(f"{change.action.value} {change.address}: {change.reason}")
        lines += [f"    {d.field}: {d.before!r} -> {d.after!r}" for d in change.diffs]
    return "\n".join(lines)


async def apply_and_replan(client: MetorialClient, catalog: Catalog, path: Path) -> None:
    desired = resolve_names(load_config(path, env=ENV), catalog)
    plan = build_plan(desired, await fetch_live(client, STACK, catalog))
    report = await apply_plan(plan, client, catalog=catalog)
    failed = [f"{r.address}: {r.summary()}" for r in report.results if r.outcome.value != "done"]
    assert not failed, "apply failed:\n" + "\n".join(failed) + "\n" + path.read_text()
    again = build_plan(desired, await fetch_live(client, STACK, catalog))
    assert again.actionable() == (), "plan after apply is not empty:\n" + explain(again) + "\n" + path.read_text()


def catalog_ids(catalog: Catalog) -> CatalogIds:
    return {p.slug: {"id": p.id, "versions": p.versions, "methods": p.auth_methods} for p in catalog.providers}


async def plan_is_empty(client: MetorialClient, catalog: Catalog, path: Path) -> None:
    desired = resolve_names(load_config(path, env=ENV), catalog)
    again = build_plan(desired, await fetch_live(client, STACK, catalog))
    assert again.actionable() == (), "an equivalent config plans changes:\n" + explain(again) + "\n" + path.read_text()


async def converge(data: st.DataObject, first: dict[str, Any], second: dict[str, Any], flow: bool, tmp: Path) -> None:
    """Apply `first`, check an equivalent rewrite of it plans nothing, then apply `second`."""
    path = tmp / "stack.yaml"
    async with open_client("local", None, state_dir=tmp / ".metorial-apply") as client:
        catalog = await fetch_catalog(client)
        for config in (first, second):
            path.write_text(dump(config, flow), encoding="utf-8")
            await apply_and_replan(client, catalog, path)
            path.write_text(
                dump(data.draw(equivalent(config, catalog_ids(catalog)), label="equivalent")), encoding="utf-8"
            )
            await plan_is_empty(client, catalog, path)


@st.composite
def config_and_mutation(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    first = draw(configs())
    return first, draw(configs(first))


@settings(max_examples=40, **SETTINGS)
@given(st.data(), config_and_mutation(), st.booleans())
def test_apply_then_plan_is_empty_before_and_after_a_mutation(
        data: st.DataObject, pair: tuple[dict[str, Any], dict[str, Any]], flow: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        anyio.run(converge, data, pair[0], pair[1], flow, Path(tmp))


def cli(*args: str) -> tuple[int, str]:
    result = run_cli(list(args), env={"METORIAL_API_URL": "local"} | ENV)
    return result.code, result.out + result.err


@settings(max_examples=4, **SETTINGS)
@given(config_and_mutation())
def test_cli_apply_then_plan_detailed_exitcode_is_zero(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stack.yaml"
        for config in pair:
            path.write_text(dump(unprotected(config)), encoding="utf-8")
            code, out = cli("apply", str(path), "--auto-approve", "--allow-delete", "--force", "--allow-empty")
            assert code == 0, out + path.read_text()
            code, out = cli("plan", str(path), "--detailed-exitcode")
            assert code == 0, out + path.read_text()
