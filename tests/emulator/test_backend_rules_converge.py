"""The backend's rules, end to end through the real CLI against an emulator process over HTTP:
a config built from a bound vault converges with the vault's deployment, and removing an auth
config's description (which the API cannot clear) converges in one apply with one note."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.apply.conftest import run_cli
from tests.emulator_server import SECRET_KEY, EmulatorProcess

VAULT = """\
stack: rules
deployments:
  gh: {provider: github}
config_vaults:
  shared: {deployment: gh, value: {}}
configs:
  from-vault: {vault: shared}
auth_configs:
  gh-token: {deployment: gh, method: token, value: {token: t}}
session_templates:
  bot:
    providers: [{deployment: gh, config: from-vault, auth_config: gh-token}]
"""

AUTH = """\
stack: rules
deployments:
  gh: {provider: github}
auth_configs:
  gh-token: {deployment: gh, method: token, value: {token: t}DESCRIPTION}
"""
NOTE = "auth_config.gh-token: the API cannot clear an auth config's description; set another text to change it"


def cli(server: EmulatorProcess, *args: str) -> tuple[int, str]:
    result = run_cli(list(args), env={"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY})
    assert result.code in (0, 2), result.out + result.err
    return result.code, result.out


def test_a_config_from_a_bound_vault_applies_and_the_next_plan_is_empty(emulator: EmulatorProcess,
                                                                       tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(VAULT)
    code, out = cli(emulator, "plan", str(path), "--json", "--detailed-exitcode")
    planned = next(c for c in json.loads(out)["changes"] if c["address"] == "config.from-vault")
    assert code == 2 and planned["after"]["deployment"] == "gh"  # planned with the vault's deployment
    cli(emulator, "apply", str(path), "--auto-approve")
    assert cli(emulator, "plan", str(path), "--detailed-exitcode")[0] == 0
    config = next(o for o in emulator.objects("rules", status="active") if o["kind"] == "config")
    assert config["deployment"]["name"] == "gh"


def test_removing_an_auth_config_description_converges_in_one_apply(emulator: EmulatorProcess,
                                                                   tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(AUTH.replace("DESCRIPTION", ", description: rotated monthly"))
    cli(emulator, "apply", str(path), "--auto-approve")
    path.write_text(AUTH.replace("DESCRIPTION", ""))
    code, out = cli(emulator, "plan", str(path), "--detailed-exitcode")
    assert code == 0 and out.count(NOTE) == 1, out
    cli(emulator, "apply", str(path), "--auto-approve")
    code, out = cli(emulator, "plan", str(path), "--detailed-exitcode")
    assert code == 0 and "No changes" in out
    auth = next(o for o in emulator.objects("rules", status="active") if o["kind"] == "auth_config")
    assert auth["description"] == "rotated monthly"  # what the API keeps


ADOPTED = """\
stack: rules
deployments:
  sl: {provider: slack, name: sl}
auth_configs:
  sl-bot: {deployment: sl, method: bot_token, value: {bot_token: b}}
session_templates:
  bot:
    providers: [{deployment: sl, auth_config: sl-bot}]
"""


def test_a_live_default_config_lets_a_template_provider_omit_its_config(emulator: EmulatorProcess,
                                                                         tmp_path: Path) -> None:
    # A deployment made elsewhere with a default config, stamped as ours (as `import` would).
    stamp = {"metorial-apply/stack": "rules", "metorial-apply/address": "deployment.sl",
             "metorial-apply/spec-hash": "sha256:0"}
    created = httpx.post(f"{emulator.url}/provider-deployments", headers={"Authorization": f"Bearer {SECRET_KEY}"},
                         json={"provider_id": "slack", "name": "sl", "metadata": stamp,
                               "provider_config": {"value": {"workspace": "acme"}}})
    assert created.status_code == 200 and created.json()["default_config"] is not None
    # A stamp from before the stack index: the stack moves over once, by a person.
    rebuilt = run_cli(["index", "rebuild", "--stack", "rules", "--yes"],
                      env={"METORIAL_API_URL": emulator.url, "METORIAL_API_KEY": SECRET_KEY, "CI": None})
    assert rebuilt.code == 0 and "deployment.sl" in rebuilt.out, rebuilt.out + rebuilt.err
    path = tmp_path / "stack.yaml"
    path.write_text(ADOPTED)
    offline = run_cli(["validate", str(path), "--online", "--api-url", emulator.url],
                      env={"METORIAL_API_KEY": SECRET_KEY})
    assert offline.code == 1 and "config_required" in offline.err  # validate reads no live state
    cli(emulator, "apply", str(path), "--auto-approve")  # the plan saw the live default config
    assert cli(emulator, "plan", str(path), "--detailed-exitcode")[0] == 0


NO_CONFIG = """\
stack: rules
deployments:
  gh: {provider: github}
auth_configs:
  gh-token: {deployment: gh, method: token, value: {token: t}}
session_templates:
  bot:
    providers: [{deployment: gh, auth_config: gh-token}]
"""


def test_the_servers_default_config_is_nobodys_and_never_planned(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(NO_CONFIG)
    cli(emulator, "apply", str(path), "--auto-approve")
    configs = emulator.admin("GET", "/objects", params={"kind": "config", "status": "active"})["items"]
    assert [(c["name"], c["is_default"], c["metadata"]) for c in configs] == [("Default Config for gh", True, {})]
    code, out = cli(emulator, "plan", str(path), "--detailed-exitcode")
    assert code == 0 and "Default Config" not in out
