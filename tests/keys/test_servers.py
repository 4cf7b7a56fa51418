"""The three-emulator fixture: each process answers its own API with the credentials it exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from .conftest import KeyServers


def test_three_emulators_answer_with_the_exported_credentials(key_servers: KeyServers) -> None:
    env = key_servers.env
    metorial = httpx.get(f"{key_servers.metorial.url}/provider-deployments",
                         headers={"Authorization": f"Bearer {env['METORIAL_API_KEY']}"}, timeout=10)
    metlo = httpx.get(f"{env['METLO_URL']}/api/v1/keys/list", headers={"Authorization": env["METLO_ADMIN_KEY"]},
                      timeout=10)
    metal = httpx.get(f"{env['METAL_URL']}/v1/keys", timeout=10,
                      headers={"x-metal-client-id": env["METAL_CLIENT_ID"], "x-metal-api-key": env["METAL_API_KEY"]})
    assert (metorial.status_code, metlo.status_code, metal.status_code) == (200, 200, 200)
    assert key_servers.metlo.authenticate(env["METLO_ADMIN_KEY"])
    assert key_servers.metal.authenticate(env["METAL_API_KEY"], env["METAL_CLIENT_ID"])
    assert len({key_servers.metorial.url, key_servers.metlo.url, key_servers.metal.url}) == 3


def test_plan_refuses_api_keys_until_they_are_wired(tmp_path: Path, run_cli: Any) -> None:
    config = tmp_path / "stack.yaml"
    config.write_text("stack: prod\nkey_backends:\n  m: {type: metlo, url: local}\napi_keys:\n  k: {backend: m}\n"
                      "config_vaults:\n  v: {provider: metlo, value: {api_key: \"${key.k.secret}\"}}\n")
    result = run_cli("plan", str(config), "--api-url", "local", "--api-key", "metorial_sk_x")
    assert result.code == 1 and "do not manage API keys yet" in result.err
    validated = run_cli("validate", str(config))
    assert validated.code == 0, validated.err
