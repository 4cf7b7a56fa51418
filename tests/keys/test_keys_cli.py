"""Issue 14's "done when", through the CLI against three `emulator serve` processes (Metorial,
Metlo, Metal): keys created and delivered into vaults, an empty next plan, rotation in journal
order, foreign keys untouched, lost create answers and killed runs converging, and the
services' documented messages. Every key secret is grepped for in every output."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from metorial_apply.core.keys import parse_key_name
from metorial_apply.emulator.process import EmulatorProcess, child_env
from tests.apply.conftest import run_cli

from .conftest import KeyServers

CONFIG = """\
stack: prod
key_backends:
  metlo: {type: metlo, url: "${env:METLO_URL}", api_key: "${env:METLO_ADMIN_KEY}"}
  metal: {type: metal, url: "${env:METAL_URL}", client_id: "${env:METAL_CLIENT_ID}", api_key: "${env:METAL_API_KEY}"}
api_keys:
  metlo-ingest: {backend: metlo, key_for: GENERIC}
  metlo-audit: {backend: metlo, key_for: ONBOARDING}
  metal-sync: {backend: metal}
config_vaults:
  ingest-creds:
    provider: metlo
    value: {api_key: "${key.metlo-ingest.secret}"}
  audit-creds:
    provider: metlo
    value: {api_key: "${key.metlo-audit.secret}", url: "https://metlo.internal"}
  sync-creds:
    provider: metal
    value: {client_id: "${key.metal-sync.client_id}", api_key: "${key.metal-sync.secret}"}
"""
VAULTS = {"ingest-creds": "metlo", "audit-creds": "metlo", "sync-creds": "metal"}


def setup(tmp: Path) -> Path:
    config = tmp / "stack" / "stack.yaml"
    config.parent.mkdir()
    config.write_text(CONFIG)
    return config


def cli(servers: KeyServers, *args: str) -> tuple[int, str]:
    result = run_cli([args[0], *args[1:], "--api-url", servers.metorial.url], env=servers.env)
    return result.code, result.out + result.err


def vault_secrets(servers: KeyServers, tmp: Path) -> dict[str, dict[str, str]]:
    with sqlite3.connect(tmp / "metorial.sqlite3") as db:
        rows = db.execute("SELECT name, secret FROM objects WHERE kind = 'vault' AND status = 'active'").fetchall()
    return {name: json.loads(secret) for name, secret in rows}


def works(servers: KeyServers, vault: str, value: dict[str, str]) -> bool:
    if VAULTS[vault] == "metal":
        return servers.metal.authenticate(value["api_key"], value["client_id"])
    return servers.metlo.authenticate(value["api_key"])


def ours(server: EmulatorProcess) -> list[str]:
    return sorted(k["name"] for k in server.api_keys()
                  if k["status"] == "active" and parse_key_name(k["name"], "prod") is not None)


def secrets_of(values: dict[str, dict[str, str]]) -> list[str]:
    return [v["api_key"] for v in values.values()]


def assert_no_secret(texts: list[str], secrets: list[str]) -> None:
    for secret in secrets:
        assert len(secret) > 20
        for text in texts:
            assert secret not in text


def test_keys_apply_into_vaults_that_work_and_the_next_plan_is_empty(key_servers: KeyServers, tmp_path: Path
                                                                     ) -> None:
    config, journal = setup(tmp_path), tmp_path / "journal.jsonl"
    code, planned = cli(key_servers, "plan", str(config), "--out", str(tmp_path / "plan.json"),
                        "--markdown", str(tmp_path / "plan.md"))
    assert code == 0, planned
    code, applied = cli(key_servers, "apply", str(tmp_path / "plan.json"), "--auto-approve", "--journal", str(journal))
    assert code == 0, applied
    values = vault_secrets(key_servers, tmp_path)
    assert set(values) == set(VAULTS) and all(works(key_servers, n, v) for n, v in values.items())
    assert ours(key_servers.metlo) == ["prod~metlo-audit~1", "prod~metlo-ingest~1"]
    assert ours(key_servers.metal) == ["prod~metal-sync~1"]
    code, again = cli(key_servers, "plan", str(config), "--detailed-exitcode")
    assert code == 0, again
    code, as_json = cli(key_servers, "plan", str(config), "--json")
    texts = [planned, applied, again, as_json, journal.read_text(), (tmp_path / "plan.json").read_text(),
             (tmp_path / "plan.md").read_text()]
    assert_no_secret(texts, secrets_of(values))


def test_rotate_replaces_the_key_and_the_vault_never_lacks_a_working_one(key_servers: KeyServers,
                                                                           tmp_path: Path) -> None:
    config, journal = setup(tmp_path), tmp_path / "journal.jsonl"
    assert cli(key_servers, "apply", str(config), "--auto-approve")[0] == 0
    old = vault_secrets(key_servers, tmp_path)["sync-creds"]
    code, planned = cli(key_servers, "plan", str(config), "--rotate", "api_key.metal-sync", "--detailed-exitcode")
    assert code == 3 and "rotate" in planned, planned
    code, refused = cli(key_servers, "apply", str(config), "--rotate", "api_key.metal-sync", "--auto-approve")
    assert code == 1 and "--allow-delete" in refused
    code, out = cli(key_servers, "apply", str(config), "--rotate", "api_key.metal-sync", "--auto-approve",
                    "--allow-delete", "--journal", str(journal))
    assert code == 0, out
    new = vault_secrets(key_servers, tmp_path)["sync-creds"]
    assert new != old and works(key_servers, "sync-creds", new) and not works(key_servers, "sync-creds", old)
    assert ours(key_servers.metal) == ["prod~metal-sync~2"]
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    done = {(e["address"], e["action"]) for e in events if e["event"] == "change" and e["outcome"] == "done"}
    assert {("api_key.metal-sync", "rotate"), ("config_vault.sync-creds", "replace")} <= done
    # One graph: new key, new vault holding it, old vault gone, and only then the old key.
    calls = [(e["method"], e["path"]) for e in events if e["event"] == "call"]
    first = {call: calls.index(call) for call in reversed(calls)}
    deletes = {path.split("/")[-2]: i for i, (method, path) in enumerate(calls) if method == "DELETE"}
    assert first["POST", "/v1/keys"] < first["POST", "/provider-config-vaults"] \
        < deletes["provider-config-vaults"] < deletes["keys"], calls
    assert cli(key_servers, "plan", str(config), "--detailed-exitcode")[0] == 0
    assert_no_secret([out, planned, journal.read_text()], [old["api_key"], new["api_key"]])


def foreign_keys(servers: KeyServers) -> None:
    env = servers.env
    for name in ("prod.eu~metlo-ingest~1", "metlo-ingest", "prod~"):
        made = httpx.post(f"{env['METLO_URL']}/api/v1/keys/create", json={"name": name},
                          headers={"Authorization": env["METLO_ADMIN_KEY"]}, timeout=10)
        assert made.status_code == 200
    made = httpx.post(f"{env['METAL_URL']}/v1/keys", json={"name": "staging~metal-sync~1"}, timeout=10,
                      headers={"x-metal-client-id": env["METAL_CLIENT_ID"], "x-metal-api-key": env["METAL_API_KEY"]})
    assert made.status_code == 201


def test_keys_not_ours_survive_apply_and_destroy(key_servers: KeyServers, tmp_path: Path) -> None:
    config = setup(tmp_path)
    foreign_keys(key_servers)
    before = {s: sorted(k["name"] for k in s.api_keys() if parse_key_name(k["name"], "prod") is None)
              for s in (key_servers.metlo, key_servers.metal)}
    assert cli(key_servers, "apply", str(config), "--auto-approve")[0] == 0
    code, out = cli(key_servers, "destroy", str(config), "--auto-approve")
    assert code == 0, out
    for server, names in before.items():
        assert sorted(k["name"] for k in server.api_keys() if parse_key_name(k["name"], "prod") is None) == names
    assert ours(key_servers.metlo) == [] and ours(key_servers.metal) == []


def test_a_dropped_key_create_ends_with_one_key_and_a_working_vault(key_servers: KeyServers, tmp_path: Path) -> None:
    config = setup(tmp_path)
    key_servers.metal.faults(drop_next=1)
    code, out = cli(key_servers, "apply", str(config), "--auto-approve")
    assert code == 0, out
    assert ours(key_servers.metal) == ["prod~metal-sync~1"]
    assert works(key_servers, "sync-creds", vault_secrets(key_servers, tmp_path)["sync-creds"])


@pytest.mark.slow
def test_a_run_killed_between_key_and_vault_converges_to_one_key(key_servers: KeyServers, tmp_path: Path) -> None:
    config = setup(tmp_path)
    key_servers.metorial.faults(latency_ms=1500)
    env = child_env(key_servers.env | {"CI": "1", "METORIAL_APPLY_LOCK_SETTLE": "0",
                                          "METORIAL_APPLY_LOCK_SKEW": "0"})
    # A short lock lifetime: the killed run cannot release its stack lock, so it must expire.
    child = subprocess.Popen([sys.executable, "-m", "metorial_apply", "apply", str(config), "--auto-approve",
                              "--lock-ttl", "10", "--api-url", key_servers.metorial.url], env=env,
                             stdout=subprocess.DEVNULL, stderr=(tmp_path / "child.err").open("wb"))
    try:
        deadline = time.monotonic() + 60
        while not ours(key_servers.metal) and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        assert ours(key_servers.metal) == ["prod~metal-sync~1"], (tmp_path / "child.err").read_text()
        os.kill(child.pid, 9)
    finally:
        child.wait(timeout=10)
    key_servers.metorial.faults(latency_ms=0)
    assert "sync-creds" not in vault_secrets(key_servers, tmp_path)
    code, out = cli(key_servers, "apply", str(config), "--auto-approve", "--allow-delete", "--lock-timeout", "40")
    assert code == 0, out
    assert ours(key_servers.metal) == ["prod~metal-sync~2"]
    assert works(key_servers, "sync-creds", vault_secrets(key_servers, tmp_path)["sync-creds"])
    assert cli(key_servers, "plan", str(config), "--detailed-exitcode")[0] == 0


def test_the_metlo_limit_and_each_401_give_the_documented_messages(key_servers: KeyServers, tmp_path: Path) -> None:
    config = setup(tmp_path)
    env = key_servers.env
    for i in range(48):  # with the bootstrap key: 49 keys not ours; the config wants 2 more
        httpx.post(f"{env['METLO_URL']}/api/v1/keys/create", json={"name": f"other-{i}"},
                   headers={"Authorization": env["METLO_ADMIN_KEY"]}, timeout=10).raise_for_status()
    code, out = cli(key_servers, "plan", str(config))
    assert code == 1 and "Maximum API Key Limit Reached: 50. Consider deleting any that are not in use." in out
    for variable, message in (("METLO_ADMIN_KEY", "Client unauthorized"),
                              ("METAL_API_KEY", "invalid api key or clientId")):
        wrong = run_cli(["apply", str(config), "--auto-approve", "--api-url", key_servers.metorial.url],
                        env=env | {variable: "wrong_key_0123456789"})
        assert wrong.code == 1 and message in wrong.err, wrong.err
        assert "wrong_key_0123456789" not in wrong.out + wrong.err
    assert key_servers.metorial.objects(stack="prod") == []
    assert ours(key_servers.metlo) == [] and ours(key_servers.metal) == []


def test_a_saved_plan_is_stale_when_a_key_of_ours_appeared(key_servers: KeyServers, tmp_path: Path) -> None:
    config, saved = setup(tmp_path), tmp_path / "plan.json"
    assert cli(key_servers, "plan", str(config), "--out", str(saved))[0] == 0
    env = key_servers.env
    made = httpx.post(f"{env['METAL_URL']}/v1/keys", json={"name": "prod~metal-sync~1"}, timeout=10,
                      headers={"x-metal-client-id": env["METAL_CLIENT_ID"], "x-metal-api-key": env["METAL_API_KEY"]})
    assert made.status_code == 201
    code, out = cli(key_servers, "apply", str(saved), "--auto-approve")
    assert code == 1 and "api_key.metal-sync (generation 1 appeared on its key backend (identity ci_" in out, out
    assert key_servers.metorial.objects(stack="prod") == [] and ours(key_servers.metlo) == []


@pytest.mark.parametrize("credentials", [True, False], ids=["credentials-set", "credentials-unset"])
def test_plan_without_secrets_reads_no_key_backend(key_servers: KeyServers, tmp_path: Path, credentials: bool) -> None:
    """Its keys are planned from the stack index, even with the credentials at hand: they are secrets."""
    config = setup(tmp_path)
    env = {k: v for k, v in key_servers.env.items() if credentials or k not in ("METLO_ADMIN_KEY", "METAL_API_KEY")}
    result = run_cli(["plan", str(config), "--no-secrets", "--api-url", key_servers.metorial.url], env=env)
    assert result.code == 0, result.out + result.err
    assert "api_key.metal-sync: not read from the backend: planned from the stack index" in result.out
    assert "+ api_key.metal-sync" in result.out
    assert key_servers.metlo.stats()["total_calls"] == 0 and key_servers.metal.stats()["total_calls"] == 0


def test_secrets_out_keeps_the_secret_of_a_key_nothing_consumes(key_servers: KeyServers, tmp_path: Path) -> None:
    config = setup(tmp_path)
    config.write_text(CONFIG.replace("  metal-sync: {backend: metal}\n",
                                     "  metal-sync: {backend: metal}\n  spare: {backend: metal}\n"))
    code, out = cli(key_servers, "plan", str(config))
    assert code == 1 and "api key spare is used by nothing" in out
    secrets = tmp_path / "keys.env"
    code, out = cli(key_servers, "apply", str(config), "--auto-approve", "--secrets-out", str(secrets))
    assert code == 0, out
    assert oct(secrets.stat().st_mode & 0o777) == "0o600"
    lines = dict(line.split("=", 1) for line in secrets.read_text().splitlines() if not line.startswith("#"))
    assert key_servers.metal.authenticate(lines["SPARE_SECRET"], lines["SPARE_CLIENT_ID"])
    assert "METAL_SYNC_SECRET" not in lines and lines["SPARE_SECRET"] not in out
    code, again = cli(key_servers, "apply", str(config), "--auto-approve", "--secrets-out", str(secrets))
    assert code == 0 and "No changes" in again, again  # nothing created: the file is left alone
