"""Each kind of ordering edge the planner makes is needed: with it, an apply against the
emulator is right; with only that kind removed from the plan, the same apply fails or leaves
the emulator in a wrong state.

The plan is built as the CLI builds it (YAML → resolve → live read → build_plan), then one kind
of edge is stripped from its changes and apply_plan runs against the emulator in-process (the
transport `--api-url local` uses). Wrong orders are made certain, not likely: a change the API
refuses (its dependents are skipped, so whatever waited on them must not run), or a request
held back so that the step it should wait for has not happened yet. The emulator is the judge:
its objects (archived ones too, with their timestamps) and its per-status call counts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from metorial_apply.api.catalog import fetch_catalog
from metorial_apply.api.client import MetorialClient, open_client
from metorial_apply.api.live import read_live
from metorial_apply.apply.report import ApplyReport
from metorial_apply.apply.run import apply_plan
from metorial_apply.apply.schedule import Outcome
from metorial_apply.config.load import load_config
from metorial_apply.config.resolve import resolve_names
from metorial_apply.core.fingerprint import FingerprintKey
from metorial_apply.core.model import Catalog
from metorial_apply.emulator import EmulatorSettings, FaultSettings, asgi_transport, create_app
from metorial_apply.planning.plan import Action, Change, Plan, build_plan

pytestmark = pytest.mark.anyio

STACK = "ordering"
KEY = FingerprintKey(b"test-only-fingerprint-key-for-ordering-tests")  # keyed stamps: no scrypt wait
LATENCY_MS = 5  # every request yields to the loop, so unordered steps really overlap
HOLD_S = 0.25  # how long a held-back request waits before it reaches the emulator
REFUSED = "refused"  # the name of a deployment whose create the API refuses
ADDRESS = "metorial-apply/address"


# -- the emulator, with one create refused and some requests held back ---------------------------

@dataclass
class Steering:
    """What the ASGI wrapper in front of the emulator does: refuse creates named REFUSED (a
    server-side check the client cannot predict) and hold requests back."""

    hold: frozenset[tuple[str, str]]  # (method, first path segment) reaching the emulator HOLD_S late
    refuse: bool = True


def steered(app: Any, steering: Steering) -> Any:
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        if (scope["method"], "/" + scope["path"].split("/")[1]) in steering.hold:
            await asyncio.sleep(HOLD_S)
        if scope["method"] != "POST" or not steering.refuse:
            return await app(scope, receive, send)
        message = await receive()
        body = message.get("body", b"")
        if json.loads(body or b"{}").get("name") == REFUSED:
            return await _refuse(send)
        replay = [{"type": "http.request", "body": body, "more_body": False}]
        return await app(scope, lambda: _pop(replay, receive), send)

    return wrapped


async def _refuse(send: Any) -> None:
    problem = {"code": "custom", "message": "Provider is retired", "path": ["provider_id"]}
    payload = {"object": "error", "ok": False, "status": 400, "code": "invalid_data", "message": "Invalid data",
               "entity": "body", "errors": [problem]}
    await send({"type": "http.response.start", "status": 400, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


async def _pop(replay: list[dict[str, Any]], receive: Any) -> dict[str, Any]:
    return replay.pop() if replay else await receive()


@dataclass
class World:
    """One emulator and a client of it, and the stack's YAML on disk."""

    client: MetorialClient
    admin: httpx.AsyncClient
    catalog: Catalog
    path: Path
    steering: Steering

    async def plan(self, yaml: str) -> Plan:
        self.path.write_text(yaml)
        desired = resolve_names(load_config(self.path, env={}), self.catalog)
        live = await read_live(self.client, STACK, self.catalog)
        return build_plan(desired, live.state, key=KEY)

    async def apply(self, plan: Plan) -> ApplyReport:
        return await apply_plan(plan, self.client, catalog=self.catalog, parallelism=16, fingerprint_key=KEY)

    async def objects(self, address: str) -> list[dict[str, Any]]:
        """Every object stamped with `address`, archived ones too, oldest first."""
        answer = await self.admin.get("/_emulator/objects", params={f"metadata[{ADDRESS}]": address})
        return sorted(answer.json()["items"], key=lambda o: o["id"])

    async def active(self, address: str) -> list[dict[str, Any]]:
        return [o for o in await self.objects(address) if o["status"] == "active"]

    async def statuses(self) -> dict[str, int]:
        return (await self.admin.get("/_emulator/stats")).json()["statuses"]


@asynccontextmanager
async def world(tmp_path: Path, hold: frozenset[tuple[str, str]]) -> AsyncIterator[World]:
    app = create_app(EmulatorSettings(seed=7, faults=FaultSettings(latency_ms=LATENCY_MS)))
    steering = Steering(hold)
    transport = asgi_transport(steered(app, steering))
    async with open_client("local", None, transport=transport, max_concurrency=16) as client, \
            httpx.AsyncClient(transport=transport, base_url="http://emulator") as admin:
        catalog = await fetch_catalog(client, detail_for={"linear"})
        yield World(client, admin, catalog, tmp_path / "stack.yaml", steering)


# -- the stacks ---------------------------------------------------------------------------------

def stack(deployments: str, configs: str = "", templates: str = "") -> str:
    """YAML for the stack: `deployments` "name ...", `configs` "name:deployment:team_key ...",
    `templates` "name:deployment+config,deployment ..." (all of provider linear). Each deployment a
    template uses gets an auth config `key-<deployment>`, as the API requires of linear's providers."""
    lines = [f"stack: {STACK}"]
    if deployments:
        lines += ["deployments:", *(f"  {d}: {{provider: linear}}" for d in deployments.split())]
    if configs:
        lines.append("configs:")
        for entry in configs.split():
            name, dep, team = entry.split(":")
            lines.append(f"  {name}: {{deployment: {dep}, value: {{team_key: {team}}}}}")
    if templates:
        lines += template_lines(templates)
    return "\n".join(lines) + "\n"


def template_lines(templates: str) -> list[str]:
    lines, used = ["session_templates:"], set()
    for entry in templates.split():
        name, items = entry.split(":")
        providers = []
        for item in items.split(","):
            dep, _, cfg = item.partition("+")
            used.add(dep)
            config = f", config: {cfg}" if cfg else ""
            providers.append(f"{{deployment: {dep}{config}, auth_config: key-{dep}}}")
        lines.append(f"  {name}: {{providers: [{', '.join(providers)}]}}")
    lines.append("auth_configs:")
    value = "{api_key: lin_api_test}"
    lines += [f"  key-{d}: {{deployment: {d}, method: api_key, value: {value}}}" for d in sorted(used)]
    return lines


# -- the cases: one per kind of edge ---------------------------------------------------------------

Problems = list[str]


@dataclass(frozen=True)
class Case:
    """Apply `before` with every edge, then plan `after` and apply it with or without the edge
    kind that `strip` removes; `check` lists what is wrong in the emulator afterwards."""

    before: str
    after: str
    strip: Callable[[Change], Change]
    check: Callable[[World, ApplyReport], Awaitable[Problems]]
    wrong: str  # what `check` reports once the edge kind is gone: the harm that edge prevents
    prepare: Callable[[Change], Change] = lambda c: c  # how the plan says something the planner does not
    hold: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    refused: bool = False  # the API refuses deployment.refused: the apply fails, and what waits on it is skipped


async def apply_succeeds(w: World, report: ApplyReport) -> Problems:
    return [] if report.ok else [r.summary() for r in report.results if r.outcome is not Outcome.DONE]


async def template_keeps_a_working_provider(w: World, report: ApplyReport) -> Problems:
    (template,) = await w.active("session_template.t")
    configs = {o["id"]: o["status"] for o in await w.objects("config.c")}
    providers = [p for p in template["providers"] if p["status"] == "active"]
    if not providers:
        return ["the template lost every provider while its repoint had not run"]
    return [f"provider {p['id']} uses config {p['config']['id']}, which is {configs.get(p['config']['id'])}"
            for p in providers if configs.get(p["config"]["id"]) != "active"]


async def config_still_has_an_object(w: World, report: ApplyReport) -> Problems:
    return [] if await w.active("config.c") else ["config.c has no active object: its old one went, no new one came"]


async def new_config_created_after_old_archived(w: World, report: ApplyReport) -> Problems:
    old, new = await w.objects("config.c")  # the emulator's ids sort in creation order
    if old["updated_at"] > new["created_at"]:
        return [f"the new config existed ({new['created_at']}) before the old one was archived ({old['updated_at']})"]
    return await apply_succeeds(w, report)


async def every_delete_found_its_object(w: World, report: ApplyReport) -> Problems:
    gone = {s: n for s, n in (await w.statuses()).items() if s in ("404", "410")}
    notes = [str(r.address) for r in report.results if r.note == "already gone"]
    problems = [f"a cascade archived {a} before its own delete ran" for a in notes]
    return problems + ([f"the emulator answered {gone}"] if gone else []) + await apply_succeeds(w, report)


def builds(c: Change) -> bool:
    return c.action is not Action.DELETE


CASES = {
    # A create waits for what it references (it needs the new id).
    "depends_on": Case(
        before=stack("d"),
        after=stack("d e", "c:e:T1", "t:e+c"),
        strip=lambda c: c.model_copy(update={"depends_on": ()}) if builds(c) else c,
        check=apply_succeeds,
        wrong="has no id: it does not exist yet",
    ),
    # A replaced config is deleted only after the template using it let go; the template's
    # repoint is skipped (another provider it adds is refused), so the old config must stay.
    "delete_after": Case(
        before=stack("d", "c:d:T1", "t:d+c"),
        after=stack(f"d {REFUSED}", "c:d:T2", f"t:d+c,{REFUSED}"),
        strip=lambda c: c.model_copy(update={"delete_after": ()}),
        check=template_keeps_a_working_provider,
        wrong="the template lost every provider",
        refused=True,
    ),
    # A create-first replace deletes the old object only once the new one exists; here the
    # new one cannot be made (its deployment is refused), so the old one must stay.
    "create_first": Case(
        before=stack("d", "c:d:T1"),
        after=stack(f"d {REFUSED}", f"c:{REFUSED}:T1"),
        strip=lambda c: c.model_copy(update={"replace_mode": None}) if c.replace_mode == "create_first" else c,
        check=config_still_has_an_object,
        wrong="config.c has no active object",
        refused=True,
    ),
    # A delete-first replace (the plan format allows it; the planner never needs it, as names
    # are not unique) archives the old object before it creates the new one.
    "delete_first": Case(
        before=stack("d", "c:d:T1"),
        after=stack("d", "c:d:T2"),
        prepare=lambda c: c.model_copy(update={"replace_mode": "delete_first"}) if c.action is Action.REPLACE else c,
        strip=lambda c: c.model_copy(update={"replace_mode": None}),
        check=new_config_created_after_old_archived,
        wrong="before the old one was archived",
        hold=frozenset({("DELETE", "/provider-configs")}),
    ),
    # A delete waits for its dependents: the config moving off the deleted deployment cannot
    # be re-created (its new deployment is refused), so the deployment, and with it (by the
    # API's archive cascade) the config's old object, must stay.
    "deletes_after_dependents": Case(
        before=stack("d", "c:d:T1"),
        after=stack(REFUSED, f"c:{REFUSED}:T1"),
        strip=lambda c: c if builds(c) else c.model_copy(update={"depends_on": ()}),
        check=config_still_has_an_object,
        wrong="config.c has no active object",
        refused=True,
    ),
    # Deleting a whole stack: dependents first, so no cascade takes what we are about to delete.
    "deletes_in_reverse": Case(
        before=stack("d", "c:d:T1", "t:d+c"),
        after=stack(""),
        strip=lambda c: c if builds(c) else c.model_copy(update={"depends_on": ()}),
        check=every_delete_found_its_object,
        wrong="a cascade archived config.c before its own delete ran",
        hold=frozenset({("DELETE", "/session-templates"), ("DELETE", "/provider-configs")}),
    ),
}


def edited(plan: Plan, edit: Callable[[Change], Change]) -> Plan:
    return plan.model_copy(update={"changes": tuple(edit(c) for c in plan.changes)})


async def run_case(name: str, tmp_path: Path, *, strip: bool) -> tuple[ApplyReport, Problems, Plan]:
    """Apply the case's `after` plan (stripped or not) on top of `before`; its report, the
    problems its check finds, and the plan the API then needs once it refuses nothing."""
    case = CASES[name]
    async with world(tmp_path, case.hold) as w:
        first = await w.apply(await w.plan(case.before))
        assert first.ok, [r.summary() for r in first.results]
        await w.admin.post("/_emulator/reset", json={"stats_only": True})
        plan = edited(await w.plan(case.after), case.prepare)
        if strip:
            stripped = edited(plan, case.strip)
            assert stripped != plan, f"{name}: the plan has no edge of this kind to remove"
            plan = stripped
        report = await w.apply(plan)
        problems = await case.check(w, report)
        if case.refused and not strip:  # what the failed apply left converges once the API accepts it
            w.steering.refuse = False
            again = await w.apply(await w.plan(case.after))
            assert again.ok, [r.summary() for r in again.results]
        return report, problems, await w.plan(case.after)


@pytest.mark.parametrize("name", sorted(CASES))
async def test_with_every_edge_the_apply_is_right_and_converges(name: str, tmp_path: Path) -> None:
    report, problems, next_plan = await run_case(name, tmp_path, strip=False)
    assert problems == []
    assert next_plan.actionable() == (), [str(c.address) for c in next_plan.actionable()]
    if CASES[name].refused:  # only the refused deployment failed; what waited on it was skipped
        failed = [str(r.address) for r in report.results if r.outcome is Outcome.FAILED]
        assert failed == [f"deployment.{REFUSED}"], [r.summary() for r in report.results]
    else:
        assert report.ok


@pytest.mark.parametrize("name", sorted(CASES))
async def test_without_that_edge_kind_the_apply_goes_wrong(name: str, tmp_path: Path) -> None:
    _, problems, _ = await run_case(name, tmp_path, strip=True)
    assert problems, f"removing the {name} edges changed nothing the emulator can see"
    assert any(CASES[name].wrong in p for p in problems), problems
