"""The real CLI against a real-HTTP emulator: after apply, a fresh plan is empty — per example,
per environment and per kind (applied, changed in the YAML, applied again)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.apply.conftest import copy_example, run_cli
from tests.emulator_server import SECRET_KEY, EmulatorProcess

CANARY = "ghp_canary_5b1e2d9f"


def api(emulator: EmulatorProcess) -> dict[str, str]:
    return {"METORIAL_API_URL": emulator.url, "METORIAL_API_KEY": SECRET_KEY, "GITHUB_TOKEN": CANARY}


def apply(path: Path, emulator: EmulatorProcess, *extra: str) -> None:
    result = run_cli(["apply", str(path), "--auto-approve", "--allow-delete", *extra], env=api(emulator))
    assert result.code == 0, result.out + result.err
    assert "0 failed, 0 skipped" in result.out
    assert CANARY not in result.out + result.err


def assert_empty_plan(path: Path, emulator: EmulatorProcess, *extra: str) -> None:
    result = run_cli(["plan", str(path), "--detailed-exitcode", *extra], env=api(emulator))
    assert result.code == 0, result.out + result.err


def assert_no_duplicates(emulator: EmulatorProcess, stack: str) -> None:
    addresses = Counter(o["metadata"]["metorial-apply/address"] for o in emulator.objects(stack, status="active"))
    assert addresses and max(addresses.values()) == 1, addresses


def test_quickstart_converges(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = copy_example("quickstart", tmp_path)
    apply(path, emulator)
    assert_empty_plan(path, emulator)
    assert_no_duplicates(emulator, "quickstart")


@pytest.mark.parametrize("env", ["staging", "production"])
def test_multi_env_converges_per_environment(emulator: EmulatorProcess, tmp_path: Path, env: str) -> None:
    base = copy_example("multi-env", tmp_path) / "base"
    var_file = base.parent / "envs" / f"{env}.yaml"
    apply(base, emulator, "--var-file", str(var_file))
    assert_empty_plan(base, emulator, "--var-file", str(var_file))
    assert_no_duplicates(emulator, f"support-{env}")


STACK = """\
stack: kinds
deployments:
  github:
    provider: github
    description: {desc}
    metadata: {{team: {team}}}
    tools: {tools}
configs:
  github-prod:
    deployment: github
    description: {desc}
    tools: {tools}
    value: {{base_url: "{base_url}"}}
  github-from-vault:
    deployment: github
    vault: github-vault
config_vaults:
  github-vault:
    deployment: github
    description: {desc}
    value: {{base_url: "{vault_url}"}}
auth_credentials:
  github-oauth-app:
    provider: github
    description: {desc}
    client_id: "Iv1.{client}"
    client_secret: "${{env:GITHUB_TOKEN}}"
    scopes: {scopes}
auth_configs:
  github-token:
    deployment: github
    method: token
    description: {desc}
    value: {{token: "${{env:GITHUB_TOKEN}}"}}
session_templates:
  bot:
    description: {desc}
    providers:
      - deployment: github
        config: github-prod
        auth_config: github-token
        tools: {tools}
"""

EDITS = {
    "deployment": {"desc": "edited deployment", "team": "support"},
    "metadata": {"team": "platform"},
    "tools": {"tools": "[create_issue]"},
    "config_value": {"base_url": "https://ghe.example.com/api/v3"},
    "everything": {"desc": "all new", "team": "x", "tools": "[list_issues]", "base_url": "https://ghe2.example.com/api/v3",
                       "vault_url": "https://ghe3.example.com/api/v3", "client": "b2", "scopes": "[repo]"},
    "vault_value": {"vault_url": "https://ghe4.example.com/api/v3"},
    "credentials_client": {"client": "c3"},
    "credentials_scopes": {"scopes": "[repo, read:org, user]"},
}


def write_stack(path: Path, **overrides: str) -> None:
    values = {"desc": "first", "team": "support", "tools": "[create_issue, list_issues]", "base_url": "https://api.github.com",
                  "vault_url": "https://vault.example.com/api/v3", "client": "a1", "scopes": "[repo, user]"}
    path.write_text(STACK.format(**(values | overrides)))


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_each_kind_applied_changed_and_applied_again_converges(
    emulator: EmulatorProcess, tmp_path: Path, edit: str
) -> None:
    path = tmp_path / "stack.yaml"
    write_stack(path)
    apply(path, emulator)
    assert_empty_plan(path, emulator)
    write_stack(path, **EDITS[edit])
    changed = run_cli(["plan", str(path), "--detailed-exitcode"], env=api(emulator))
    assert changed.code in (2, 3), changed.out
    apply(path, emulator)
    assert_empty_plan(path, emulator)
    assert_no_duplicates(emulator, "kinds")


def test_removing_resources_deletes_them_dependents_first(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    write_stack(path)
    apply(path, emulator)
    path.write_text("stack: kinds\ndeployments:\n  github: {provider: github}\n")
    apply(path, emulator)
    assert_empty_plan(path, emulator)
    kinds = Counter(o["kind"] for o in emulator.objects("kinds", status="active"))
    assert sum(kinds.values()) == 1, kinds
