"""Issue 22 item 1 through the CLI against `emulator serve`: the platform archives the template
providers that use a deleted auth config. The plan that deletes one a template outside the stack
still uses says so on the delete, and the apply does exactly that to the other template."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.apply.conftest import run_cli
from tests.emulator_server import SECRET_KEY, EmulatorProcess

WITH = """\
stack: shop
deployments:
  gh: {provider: github}
configs:
  gh-cfg: {deployment: gh, value: {base_url: "https://api.github.com"}}
auth_configs:
  gh-token: {deployment: gh, method: token, value: {token: t}}
session_templates:
  bot:
    providers: [{deployment: gh, config: gh-cfg, auth_config: gh-token}]
"""
WITHOUT = WITH.replace("gh-token", "gh-token-2")  # ours moves to a new auth config; the old one is deleted


def run(server: EmulatorProcess, stack: Path, *args: str) -> tuple[int, str]:
    result = run_cli([*args[:1], str(stack), *args[1:]],
                     env={"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY})
    return result.code, result.out + result.err


def test_a_delete_says_which_outside_templates_lose_their_provider(emulator: EmulatorProcess, tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(WITH)
    assert run(emulator, stack, "apply", "--auto-approve")[0] == 0
    api = httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=10)
    ours = next(t for t in api.get("/session-templates").json()["items"] if t["providers"])["providers"][0]
    theirs = api.post("/session-templates", json={"name": "theirs", "providers": [
        {"provider_deployment_id": ours["deployment"]["id"], "provider_auth_config_id": ours["auth_config"]["id"],
         "provider_config_id": ours["config"]["id"]}]}).json()
    stack.write_text(WITHOUT)
    code, planned = run(emulator, stack, "plan", "--detailed-exitcode")
    assert code == 3, planned
    assert f"deleting it archives its providers in 1 session template outside this stack: {theirs['id']}" in planned
    code, applied = run(emulator, stack, "apply", "--auto-approve", "--allow-delete")
    assert code == 0, applied
    assert api.get(f"/session-templates/{theirs['id']}").json()["providers"] == []
    assert api.get(f"/session-template-providers/{theirs['providers'][0]['id']}").json()["status"] == "archived"
    code, again = run(emulator, stack, "plan", "--detailed-exitcode")
    assert code == 0, again
