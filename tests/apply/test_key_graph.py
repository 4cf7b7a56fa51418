"""API keys in the one graph, in-process (`local` Metorial, Metlo and Metal emulators), through
build_plan and apply_plan: the rules the graph's edges and skip propagation give, each with the
fault that would break them — a consumer that cannot move keeps the old generation alive, a lost
key create is recovered by exact name and generation, a failed key create skips exactly what
needs it."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from metorial_apply.api.catalog import fetch_catalog
from metorial_apply.api.client import open_client
from metorial_apply.api.keys import key_clients
from metorial_apply.api.live import read_live
from metorial_apply.apply.ids import KeyRing
from metorial_apply.apply.report import ApplyReport
from metorial_apply.apply.run import apply_plan
from metorial_apply.apply.secrets_out import SecretsOut
from metorial_apply.config.load import load_config
from metorial_apply.config.resolve import resolve_names
from metorial_apply.core.errors import ApiCall, OutcomeUnknownError, error_class_for
from metorial_apply.core.keys import CreatedKey, LiveKey
from metorial_apply.emulator.keys import KeySettings, create_key_app, key_emulator_of
from metorial_apply.emulator.keys.runtime import KeyEmulator
from metorial_apply.emulator.keys.service import Credentials
from metorial_apply.planning.plan import Action, Plan, build_plan

pytestmark = pytest.mark.anyio
CONFIG = """\
stack: prod
key_backends:
  metlo: {type: metlo, url: local}
  metal: {type: metal, url: local}
api_keys:
  ingest: {backend: metlo, key_for: GENERIC}
  sync: {backend: metal}
config_vaults:
  metal-creds:
    provider: metal
    value: {client_id: "${key.sync.client_id}", api_key: "${key.sync.secret}"}
  metlo-creds:
    provider: metlo
    value: {api_key: "${key.ingest.secret}"}
"""
DEPENDENT = """\
deployments:
  metal: {provider: metal}
configs:
  metal-cfg: {vault: metal-creds, deployment: metal}
"""


def refused(method: str, path: str, name: str) -> Exception:
    return error_class_for(400)(ApiCall(method=method, path=path, name=name), 400, "bad_request", "refused (test)")


class Metorial:
    """The local client, logging writes in order; `fail` refuses the creates of those names."""

    def __init__(self, inner: Any, log: list[str], fail: frozenset[str] = frozenset()) -> None:
        self.inner, self.log, self.fail = inner, log, fail

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def create(self, path: str, body: dict[str, Any], *, kind: str, name: str, stamp: dict[str, str]) -> Any:
        self.log.append(f"create {kind}.{name}")
        if name in self.fail:
            raise refused("POST", path, name)
        return await self.inner.create(path, body, kind=kind, name=name, stamp=stamp)

    async def delete(self, path: str, id: str, *, kind: str, name: str) -> Any:
        self.log.append(f"delete {kind}.{name}")
        return await self.inner.delete(path, id, kind=kind, name=name)


class Keys:
    """A key backend's client, logging creates and deletes by key name; `fail` refuses creates of
    those generations, `lose` creates them and loses the answer (once each)."""

    def __init__(self, inner: Any, log: list[str], fail: frozenset[str], lose: set[str],
                 rename: frozenset[str] = frozenset()) -> None:
        self.inner, self.log, self.fail, self.lose, self.rename = inner, log, fail, lose, rename

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def create_key(self, name: str, key_for: str | None = None) -> CreatedKey:
        self.log.append(f"create key {name}")
        if name in self.fail:
            raise refused("POST", "/keys", name)
        made = await self.inner.create_key(name, key_for)
        if name in self.rename:  # a backend that answers with another key than the one asked for
            made = made.model_copy(update={"key": made.key.model_copy(update={"name": name + "-other"})})
        if name in self.lose:
            self.lose.discard(name)
            raise OutcomeUnknownError(ApiCall(method="POST", path="/keys"), None, "timeout", "lost", stamp={})
        return made

    async def delete_key(self, key: LiveKey) -> bool:
        self.log.append(f"delete key {key.name}")
        return await self.inner.delete_key(key)


async def run_once(stack: Path, *, rotate: tuple[str, ...] = (), fail: frozenset[str] = frozenset(),
                   lose: frozenset[str] = frozenset(), rename: frozenset[str] = frozenset()
                   ) -> tuple[Plan, ApplyReport, list[str]]:
    """Plan and apply once; `fail`/`lose` name resources or key generations to refuse or lose."""
    state = stack.parent / ".metorial-apply"
    desired, log, lost = load_config(stack, env={}), [], set(lose)
    async with open_client("local", None, state_dir=state) as client, \
            key_clients(desired.key_backends, state_dir=state) as keys:
        catalog = await fetch_catalog(client)
        resolved = resolve_names(desired, catalog)
        live = (await read_live(client, "prod", catalog, keys=keys)).state
        plan = build_plan(resolved, live, rotate=rotate, now=time.time())
        wrapped = {name: Keys(c, log, fail, lost, rename) for name, c in keys.items()}
        report = await apply_plan(plan, Metorial(client, log, fail), catalog=catalog, parallelism=1,
                                  keys=KeyRing(clients=wrapped, types={"metlo": "metlo", "metal": "metal"}))
    return plan, report, log


def emulator(stack: Path, api: str) -> KeyEmulator:
    path = stack.parent / ".metorial-apply" / f"{api}-emulator.sqlite3"
    return key_emulator_of(create_key_app(KeySettings(api=api, db_path=str(path))))


def vaults(stack: Path) -> dict[str, dict[str, str]]:
    with sqlite3.connect(stack.parent / ".metorial-apply" / "emulator.sqlite3") as db:
        rows = db.execute("SELECT name, secret FROM objects WHERE kind = 'vault' AND status = 'active'")
        return {name: json.loads(secret) for name, secret in rows}


def metal_works(stack: Path, value: dict[str, str]) -> bool:
    return emulator(stack, "metal").authenticate(Credentials(value["api_key"], value["client_id"]))


def metal_keys(stack: Path) -> list[str]:
    return sorted(k["name"] for k in emulator(stack, "metal").key_views()
                  if k["status"] == "active" and k["name"].startswith("prod~"))


def outcomes(report: ApplyReport) -> dict[str, tuple[str, str | None]]:
    return {str(r.address): (r.outcome.value, str(r.cause) if r.cause else None) for r in report.results}


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(CONFIG)
    return path


async def test_keys_flow_into_vaults_converge_and_rotate_in_one_graph(stack: Path) -> None:
    plan, report, _ = await run_once(stack)
    assert report.ok and {str(c.address): c.action for c in plan.changes} == {
        "api_key.ingest": Action.CREATE, "api_key.sync": Action.CREATE,
        "config_vault.metal-creds": Action.CREATE, "config_vault.metlo-creds": Action.CREATE}
    assert report.stats["calls"] >= 4  # key backend calls are counted with Metorial's
    first = vaults(stack)
    assert metal_works(stack, first["metal-creds"])
    assert emulator(stack, "metlo").authenticate(Credentials(first["metlo-creds"]["api_key"]))
    again, report, log = await run_once(stack)
    assert report.ok and not again.actionable() and log == []
    rotated, report, log = await run_once(stack, rotate=("sync",))
    assert report.ok and [c.action for c in rotated.actionable()] == [Action.ROTATE, Action.REPLACE]
    assert log == ["create key prod~sync~2", "create config_vault.metal-creds", "delete config_vault.metal-creds",
                   "delete key prod~sync~1"]
    assert metal_works(stack, vaults(stack)["metal-creds"]) and not metal_works(stack, first["metal-creds"])
    assert metal_keys(stack) == ["prod~sync~2"]


async def test_a_consumer_that_fails_to_move_keeps_the_old_generation_alive(stack: Path) -> None:
    await run_once(stack)
    old = vaults(stack)["metal-creds"]
    _, report, log = await run_once(stack, rotate=("sync",), fail=frozenset({"metal-creds"}))
    assert outcomes(report)["config_vault.metal-creds"] == ("failed", None)
    assert outcomes(report)["api_key.sync"] == ("skipped", "config_vault.metal-creds")
    assert "delete key prod~sync~1" not in log
    assert metal_keys(stack) == ["prod~sync~1", "prod~sync~2"] and metal_works(stack, old)
    assert vaults(stack)["metal-creds"] == old
    # The same command again finishes the rotation: one new generation, held by the vault.
    _, report, _ = await run_once(stack, rotate=("sync",))
    assert report.ok and metal_keys(stack) == ["prod~sync~3"]
    assert metal_works(stack, vaults(stack)["metal-creds"]) and not metal_works(stack, old)


async def test_a_lost_key_create_during_rotation_recovers_only_that_generation(stack: Path) -> None:
    await run_once(stack)
    old = vaults(stack)["metal-creds"]
    _, report, log = await run_once(stack, rotate=("sync",), lose=frozenset({"prod~sync~2"}))
    assert report.ok, report.results
    # Recovery deleted what the lost create left (same name, same generation) and created it
    # again; the generation the vault held went only after the vault had moved off it.
    assert log == ["create key prod~sync~2", "delete key prod~sync~2", "create key prod~sync~2",
                   "create config_vault.metal-creds", "delete config_vault.metal-creds", "delete key prod~sync~1"]
    assert metal_keys(stack) == ["prod~sync~2"]
    assert metal_works(stack, vaults(stack)["metal-creds"]) and not metal_works(stack, old)


async def test_a_failed_key_create_skips_exactly_its_consumers_and_their_dependents(stack: Path) -> None:
    stack.write_text(CONFIG + DEPENDENT)
    _, report, _ = await run_once(stack, fail=frozenset({"prod~sync~1"}))
    assert outcomes(report) == {
        "api_key.sync": ("failed", None),
        "config_vault.metal-creds": ("skipped", "api_key.sync"),
        "config.metal-cfg": ("skipped", "api_key.sync"),
        "api_key.ingest": ("done", None), "config_vault.metlo-creds": ("done", None),
        "deployment.metal": ("done", None),
    }
    assert set(vaults(stack)) == {"metlo-creds"}
    _, report, _ = await run_once(stack)
    assert report.ok and set(vaults(stack)) == {"metlo-creds", "metal-creds"}


async def test_only_the_secret_of_a_key_nothing_consumes_goes_to_secrets_out(stack: Path) -> None:
    spare = "  sync: {backend: metal}\n  spare: {backend: metal}\n"
    stack.write_text(CONFIG.replace("  sync: {backend: metal}\n", spare))
    state, out = stack.parent / ".metorial-apply", stack.parent / "keys.env"
    desired = load_config(stack, env={}, secrets_out=True)
    async with open_client("local", None, state_dir=state) as client, \
            key_clients(desired.key_backends, state_dir=state) as keys:
        catalog = await fetch_catalog(client)
        live = (await read_live(client, "prod", catalog, keys=keys)).state
        plan = build_plan(resolve_names(desired, catalog), live)
        with SecretsOut.open(out, [("spare", "metal")]) as written:
            ring = KeyRing(clients=keys, types={"metlo": "metlo", "metal": "metal"}, secrets_out=written,
                           unconsumed=frozenset({"spare"}))
            report = await apply_plan(plan, client, catalog=catalog, keys=ring)
    assert report.ok
    text, sync = out.read_text(), vaults(stack)["metal-creds"]
    assert "SPARE_SECRET=" in text and sync["api_key"] not in text and sync["client_id"] not in text
    spare = dict(line.split("=", 1) for line in text.splitlines() if line.startswith("SPARE_"))
    assert emulator(stack, "metal").authenticate(Credentials(spare["SPARE_SECRET"].strip("'"),
                                                             spare["SPARE_CLIENT_ID"].strip("'")))


async def test_a_key_answered_under_another_name_fails_its_create_and_its_consumer_waits(stack: Path) -> None:
    _, report, _ = await run_once(stack, rename=frozenset({"prod~sync~1"}))
    done = outcomes(report)
    assert done["api_key.sync"] == ("failed", None) and done["config_vault.metal-creds"] == ("skipped", "api_key.sync")
    error = next(r.error for r in report.results if str(r.address) == "api_key.sync")
    assert error is not None and "the API accepted the create but did not apply name" in error
    assert done["api_key.ingest"] == ("done", None) and done["config_vault.metlo-creds"] == ("done", None)
