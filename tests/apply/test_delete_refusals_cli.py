"""Issue 22 item 7 through the CLI against `emulator serve`: a config an active integration
provider uses cannot be archived. The apply fails that delete with the platform's own message
and code (nothing else is lost), and it goes through once the link is gone."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.apply.conftest import run_cli
from tests.emulator_server import SECRET_KEY, EmulatorProcess

WITHOUT = "stack: linked\ndeployments: {hub: {provider: github}}\n"
WITH = WITHOUT + 'configs: {hub-cfg: {deployment: hub, value: {base_url: "https://ghe.example"}}}\n'


def test_a_delete_the_platform_refuses_fails_with_its_message(emulator: EmulatorProcess, tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(WITH)
    env = {"METORIAL_API_URL": emulator.url, "METORIAL_API_KEY": SECRET_KEY}
    assert run_cli(["apply", str(stack), "--auto-approve"], env=env).code == 0
    api = httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=10)
    config = next(c for c in api.get("/provider-configs").json()["items"] if not c["is_default"])
    emulator.admin("PUT", "/integration-links", json={"id": config["id"], "integration_provider_id": "ipr_1"})
    stack.write_text(WITHOUT)
    refused = run_cli(["apply", str(stack), "--auto-approve", "--allow-delete", "--lock-timeout", "30"], env=env)
    assert refused.code == 1, refused.out + refused.err
    text = refused.out + refused.err
    assert "provider_config_integration_provider_archive_not_allowed" in text
    assert "Provider config is linked to an active integration provider and cannot be archived directly." in text
    assert api.get(f"/provider-configs/{config['id']}").json()["status"] == "active"
    emulator.admin("PUT", "/integration-links", json={"id": config["id"], "integration_provider_id": None})
    done = run_cli(["apply", str(stack), "--auto-approve", "--allow-delete", "--lock-timeout", "30"], env=env)
    assert done.code == 0, done.out + done.err
    assert api.get(f"/provider-configs/{config['id']}").json()["status"] == "archived"
