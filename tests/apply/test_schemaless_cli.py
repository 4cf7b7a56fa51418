"""Issue 22 item 5 through the CLI against `emulator serve`: a provider whose config schema is
`{type: object}` without properties needs no config (the platform normalises it to no schema),
its deployment gets an empty default config at creation, which carries a copy of the
deployment's metadata (our stamp too): neither ours nor a look-alike, and never a warning."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.apply.conftest import run_cli
from tests.emulator_server import SECRET_KEY, EmulatorProcess

STACK = """\
stack: math
deployments:
  calc: {provider: calculator, name: calc, metadata: {team: math}}
session_templates:
  bot:
    providers: [{deployment: calc}]
"""


def test_a_schemaless_provider_needs_no_config_and_its_default_config_is_nobodys(emulator: EmulatorProcess,
                                                                                tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(STACK)
    env = {"METORIAL_API_URL": emulator.url, "METORIAL_API_KEY": SECRET_KEY}
    applied = run_cli(["apply", str(stack), "--auto-approve"], env=env)
    assert applied.code == 0, applied.out + applied.err
    api = httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=10)
    listed = api.get("/provider-deployments", params={"provider_id": "calculator"}).json()["items"]
    deployment = next(d for d in listed if d["name"] == "calc")
    default = deployment["default_config"]
    assert default["name"] == "Default Config for calc" and default["is_default"] is True
    config = api.get(f"/provider-configs/{default['id']}").json()
    assert config["metadata"] == deployment["metadata"]  # the stamp copied, as the platform copies it
    template = next(t for t in api.get("/session-templates").json()["items"] if t["providers"])
    assert template["providers"][0]["config"]["id"] == default["id"]
    again = run_cli(["plan", str(stack), "--detailed-exitcode"], env=env)
    assert again.code == 0, again.out + again.err
    assert "look-alike" not in again.out + again.err and "left alone" not in again.out + again.err
    gone = run_cli(["destroy", str(stack), "--auto-approve"], env=env)
    assert gone.code == 0, gone.out + gone.err
    assert api.get(f"/provider-configs/{default['id']}").json()["status"] == "archived"
