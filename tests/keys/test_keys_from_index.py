"""Issue 23 item 4: `plan` needs no key backend credentials. Without them (every variable the
`key_backends:` section names unset, or empty) api keys are planned from the stack index, marked
"not read from the backend", with 0 requests to any backend; that plan equals the one made by
listing the backends while nothing drifted; `apply` of a saved plan made from the index lists the
backends and refuses, before any write, when a key moved since; and the backends' admin
credentials appear in no output. Real CLI against three `emulator serve` processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from metorial_apply.emulator.process import EmulatorProcess
from tests.apply.conftest import Result, run_cli

from .conftest import KeyServers
from .test_keys_cli import CONFIG, ours, setup, vault_secrets

BACKEND_VARS = ("METLO_URL", "METLO_ADMIN_KEY", "METAL_URL", "METAL_CLIENT_ID", "METAL_API_KEY",
                "METORIAL_APPLY_KEY_URL_VARS")
NOT_READ = "not read from the backend"
# A change beside the keys already there: a new key with its vault, so a saved plan has writes to refuse.
MORE = (CONFIG + """\
  extra-creds:
    provider: metal
    value: {client_id: "${key.metal-extra.client_id}", api_key: "${key.metal-extra.secret}"}
""").replace("  metal-sync: {backend: metal}\n", "  metal-sync: {backend: metal}\n  metal-extra: {backend: metal}\n")

AUDIT = """\
  audit-creds:
    provider: metlo
    value: {api_key: "${key.metlo-audit.secret}", url: "https://metlo.internal"}
"""


def pr_env(servers: KeyServers, unset: bool = True) -> dict[str, Any]:
    """A pull-request plan job's environment: the Metorial key only; every key backend variable
    unset (None removes it from the environment) or set empty."""
    return servers.env | dict.fromkeys(BACKEND_VARS, None if unset else "")


def cli(servers: KeyServers, env: dict[str, Any], *args: str) -> Result:
    return run_cli([*args, "--api-url", servers.metorial.url], env=env)


def backend_calls(servers: KeyServers) -> dict[str, int]:
    """Requests each key emulator has answered so far, by route."""
    return {f"{api} {route}": n for api, server in (("metlo", servers.metlo), ("metal", servers.metal))
            for route, n in server.stats()["calls"].items()}


def applied(servers: KeyServers, tmp: Path, text: str = CONFIG) -> Path:
    config = setup(tmp)
    config.write_text(text)
    result = cli(servers, servers.env, "apply", str(config), "--auto-approve")
    assert result.code == 0, result.out + result.err
    return config


@pytest.mark.parametrize("unset", [True, False], ids=["unset", "empty"])
def test_plan_without_backend_credentials_reads_no_backend_and_marks_each_key(
        key_servers: KeyServers, tmp_path: Path, unset: bool) -> None:
    config = applied(key_servers, tmp_path)
    before = backend_calls(key_servers)
    env = pr_env(key_servers, unset)
    text = cli(key_servers, env, "plan", str(config), "--detailed-exitcode")
    assert text.code == 0, text.out + text.err  # converged: no changes, and no error for the missing credentials
    markdown = cli(key_servers, env, "plan", str(config), "--markdown", "-")
    doc = cli(key_servers, env, "plan", str(config), "--json")
    assert markdown.code == 0 and doc.code == 0, markdown.err + doc.err
    assert backend_calls(key_servers) == before  # 0 requests to either key backend
    for name in ("metal-sync", "metlo-audit", "metlo-ingest"):
        assert f"Note: api_key.{name}: {NOT_READ}" in text.out
        assert f"api_key.{name}" in markdown.out
    assert markdown.out.count(NOT_READ) == 3
    notes = {n["address"]: n["text"] for n in json.loads(doc.out)["notes"]}
    assert {a for a, t in notes.items() if t.startswith(NOT_READ)} == {
        "api_key.metal-sync", "api_key.metlo-audit", "api_key.metlo-ingest"}
    assert [c["action"] for c in json.loads(doc.out)["changes"]] == ["noop"] * 6


def comparable(doc: str) -> dict[str, Any]:
    """A plan document without its notes (the one part that says where the keys were read) and
    the checksum over them."""
    return {k: v for k, v in json.loads(doc).items() if k not in ("notes", "checksum")}


def test_a_plan_from_the_index_equals_the_plan_from_the_backends(key_servers: KeyServers, tmp_path: Path) -> None:
    config = applied(key_servers, tmp_path)
    # A key created, one deleted with its vault, one rotated: every kind of key change at once.
    config.write_text(MORE.replace("  metlo-audit: {backend: metlo, key_for: ONBOARDING}\n", "").replace(AUDIT, ""))
    saved = [config.parent / "index.json", config.parent / "listed.json"]
    args = ("plan", str(config), "--json", "--rotate", "api_key.metlo-ingest", "--allow-delete", "--out")
    from_index = cli(key_servers, pr_env(key_servers), *args, str(saved[0]))
    listed = cli(key_servers, key_servers.env, *args, str(saved[1]))
    assert from_index.code == 0 and listed.code == 0, from_index.err + listed.err
    actions = {c["address"]: c["action"] for c in json.loads(listed.out)["changes"]}
    assert {actions["api_key.metal-extra"], actions["api_key.metlo-audit"], actions["api_key.metlo-ingest"],
            actions["api_key.metal-sync"]} == {"create", "delete", "rotate", "noop"}
    assert comparable(from_index.out) == comparable(listed.out)  # key fingerprints included
    assert NOT_READ in from_index.out and NOT_READ not in listed.out
    assert saved[0].read_bytes() == saved[1].read_bytes()  # the saved plans (checksum too: notes are not saved)


def delete_out_of_band(server: EmulatorProcess, env: dict[str, str], name: str) -> None:
    """Someone deletes one of our Metal keys in Metal's own API, behind metorial-apply's back."""
    headers = {"x-metal-client-id": env["METAL_CLIENT_ID"], "x-metal-api-key": env["METAL_API_KEY"]}
    keys = httpx.get(f"{env['METAL_URL']}/v1/keys", headers=headers, timeout=10).json()["data"]
    key = next(k for k in keys if k["name"] == name)
    assert httpx.delete(f"{env['METAL_URL']}/v1/keys/{key['id']}", headers=headers, timeout=10).status_code < 300


def writes(servers: KeyServers) -> int:
    """Writes any of the three services answered, but the stack lock's (session templates)."""
    calls = {**{f"metorial {r}": n for r, n in servers.metorial.stats()["calls"].items()}, **backend_calls(servers)}
    return sum(n for route, n in calls.items()
               if route.split(" ")[1].upper() != "GET" and "/session-templates" not in route)


def test_a_saved_plan_from_the_index_is_refused_when_a_key_was_deleted_out_of_band(
        key_servers: KeyServers, tmp_path: Path) -> None:
    config = applied(key_servers, tmp_path)
    config.write_text(MORE)
    saved = tmp_path / "stack" / "plan.json"
    planned = cli(key_servers, pr_env(key_servers), "plan", str(config), "--out", str(saved))
    assert planned.code == 0 and "+ api_key.metal-extra" in planned.out, planned.out + planned.err
    delete_out_of_band(key_servers.metal, key_servers.env, "prod~metal-sync~1")
    vaults = key_servers.metorial.objects(stack="prod")
    before = writes(key_servers)
    result = cli(key_servers, key_servers.env, "apply", str(saved), "--auto-approve")
    assert result.code == 1, result.out + result.err
    assert "the saved plan is stale" in result.err
    assert "api_key.metal-sync (generation 1 (identity ci_" in result.err
    assert "is gone from its key backend" in result.err
    assert writes(key_servers) == before  # refused before any write, to any of the three
    assert key_servers.metorial.objects(stack="prod") == vaults and ours(key_servers.metal) == []


def test_a_saved_plan_from_the_index_applies_when_nothing_moved(key_servers: KeyServers, tmp_path: Path) -> None:
    config = applied(key_servers, tmp_path)
    config.write_text(MORE)
    saved = tmp_path / "stack" / "plan.json"
    assert cli(key_servers, pr_env(key_servers), "plan", str(config), "--out", str(saved)).code == 0
    result = cli(key_servers, key_servers.env, "apply", str(saved), "--auto-approve")
    assert result.code == 0, result.out + result.err
    assert ours(key_servers.metal) == ["prod~metal-extra~1", "prod~metal-sync~1"]
    value = vault_secrets(key_servers, tmp_path)["extra-creds"]
    assert key_servers.metal.authenticate(value["api_key"], value["client_id"])
    again = cli(key_servers, pr_env(key_servers), "plan", str(config), "--detailed-exitcode")
    assert again.code == 0, again.out + again.err  # the index the apply wrote plans the new key too


def test_apply_still_needs_the_backend_credentials(key_servers: KeyServers, tmp_path: Path) -> None:
    config = applied(key_servers, tmp_path)
    result = cli(key_servers, key_servers.env | {"METAL_API_KEY": None}, "apply", str(config), "--auto-approve")
    assert result.code == 1 and "METAL_API_KEY is not set" in result.err, result.out + result.err


def test_no_backend_admin_credential_appears_in_any_output(key_servers: KeyServers, tmp_path: Path) -> None:
    config = setup(tmp_path)
    config.write_text(CONFIG)
    outputs = [tmp_path / name for name in ("plan.json", "plan.md", "journal.jsonl", "index-plan.json")]
    runs = [cli(key_servers, key_servers.env, "plan", str(config), "--out", str(outputs[0]),
                "--markdown", str(outputs[1])),
            cli(key_servers, key_servers.env, "apply", str(outputs[0]), "--auto-approve", "--journal",
                str(outputs[2])),
            cli(key_servers, pr_env(key_servers), "plan", str(config), "--out", str(outputs[3])),
            cli(key_servers, pr_env(key_servers, unset=False), "plan", str(config), "--json"),
            cli(key_servers, key_servers.env, "plan", str(config), "--no-secrets", "--markdown", "-"),
            cli(key_servers, key_servers.env, "apply", str(outputs[3]), "--auto-approve", "--journal",
                str(outputs[2]))]
    assert [r.code for r in runs] == [0] * len(runs), [r.out + r.err for r in runs]
    credentials = [key_servers.env[n] for n in ("METLO_ADMIN_KEY", "METAL_CLIENT_ID", "METAL_API_KEY")]
    texts = [t for r in runs for t in (r.out, r.err)] + [p.read_text() for p in outputs]
    assert all(len(c) >= 20 for c in credentials)
    assert not [c for c in credentials for t in texts if c in t]
