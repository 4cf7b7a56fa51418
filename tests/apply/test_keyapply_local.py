"""Keys end to end in-process (`local` Metorial, Metlo and Metal emulators), below the CLI: the
vault gets the new key's secret, the next plan is empty, a rotation moves every consumer before
the old key goes. (Held keys come from the keys created here until stamps record them.)"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from metorial_apply.api.catalog import fetch_catalog
from metorial_apply.api.client import open_client
from metorial_apply.api.keylive import KeyClients
from metorial_apply.api.live import fetch_live
from metorial_apply.apply.keyapply import apply_with_keys
from metorial_apply.apply.keyrun import KeyRunner
from metorial_apply.config.load import load_config
from metorial_apply.config.resolve import resolve_names
from metorial_apply.core.model import Address
from metorial_apply.emulator.keys import KeySettings, create_key_app, key_emulator_of
from metorial_apply.emulator.keys.service import Credentials
from metorial_apply.planning.keybind import settle
from metorial_apply.planning.keys import KeyInputs
from metorial_apply.planning.plan import Action, build_plan

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


async def run_once(state_dir: Path, config: Path, held: dict[str, frozenset[str]], rotate: frozenset[str] = frozenset()
                   ) -> tuple[list[Action], dict[str, str], list[str]]:
    desired = load_config(config, env={})
    async with open_client("local", None, state_dir=state_dir) as client, \
            KeyClients(desired.key_backends, state_dir=state_dir) as keys:
        catalog = await fetch_catalog(client)
        resolved = resolve_names(desired, catalog)
        live = await fetch_live(client, "prod", catalog)
        inputs = KeyInputs(stack="prod", desired=desired.api_keys, live=await keys.read(),
                           backend_types=keys.types(), held=held, rotate=rotate)

        def recreated(bound):  # type: ignore[no-untyped-def]
            return frozenset(c.address for c in build_plan(bound, live).changes
                             if c.action in (Action.CREATE, Action.REPLACE))

        key_plan, bound = settle(inputs, resolved, recreated)
        plan = build_plan(bound, live)
        log: list[str] = []

        class Sink:
            def change_started(self, address: Address, action: str) -> None: ...

            def change_finished(self, result) -> None:  # type: ignore[no-untyped-def]
                log.append(f"{result.action} {result.address} {result.outcome.value}")

        runner = KeyRunner(keys.clients, journal=Sink())
        report = await apply_with_keys(plan, client, key_plan, resolved, runner, catalog=catalog, journal=Sink())
        assert report.ok, report.results
        return [c.action for c in plan.changes], {n: k.key.identity for n, k in runner.created.items()}, log


def vault_secrets(state_dir: Path) -> dict[str, dict[str, str]]:
    with sqlite3.connect(state_dir / "emulator.sqlite3") as db:
        rows = db.execute("SELECT name, secret FROM objects WHERE kind = 'vault' AND status = 'active'")
        return {name: json.loads(secret) for name, secret in rows}


async def test_keys_flow_into_vaults_converge_and_rotate(tmp_path: Path) -> None:
    config, state = tmp_path / "stack.yaml", tmp_path / ".metorial-apply"
    config.write_text(CONFIG)
    actions, created, _ = await run_once(state, config, {})
    assert actions == [Action.CREATE, Action.CREATE] and set(created) == {"ingest", "sync"}
    held = {name: frozenset({identity}) for name, identity in created.items()}
    metal = key_emulator_of(create_key_app(KeySettings(api="metal", db_path=str(state / "metal-emulator.sqlite3"))))
    metlo = key_emulator_of(create_key_app(KeySettings(api="metlo", db_path=str(state / "metlo-emulator.sqlite3"))))
    stored = vault_secrets(state)
    assert metal.authenticate(Credentials(stored["metal-creds"]["api_key"], stored["metal-creds"]["client_id"]))
    assert metlo.authenticate(Credentials(stored["metlo-creds"]["api_key"]))
    again, made, _ = await run_once(state, config, held)
    assert again == [Action.NOOP, Action.NOOP] and made == {}
    rotated, made, log = await run_once(state, config, held, rotate=frozenset({"sync"}))
    assert rotated == [Action.REPLACE, Action.NOOP] and set(made) == {"sync"}
    assert log == ["create api_key.sync done", "replace config_vault.metal-creds done", "delete api_key.sync done"]
    new = vault_secrets(state)["metal-creds"]
    assert metal.authenticate(Credentials(new["api_key"], new["client_id"]))
    assert not metal.authenticate(Credentials(stored["metal-creds"]["api_key"], stored["metal-creds"]["client_id"]))
    assert sorted(k["name"] for k in metal.key_views() if k["status"] == "active") == ["Emulator admin", "prod~sync~2"]
