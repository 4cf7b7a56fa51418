"""The three-emulator fixture: each process answers its own API with the credentials it exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

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


def local_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One Metlo key (`url: local`, in-process) feeding one vault; no Metorial key in the env."""
    monkeypatch.delenv("METORIAL_API_KEY", raising=False)
    config = tmp_path / "stack.yaml"
    config.write_text("stack: prod\nkey_backends:\n  m: {type: metlo, url: local}\napi_keys:\n  k: {backend: m}\n"
                      "config_vaults:\n  v: {provider: metlo, value: {api_key: \"${key.k.secret}\"}}\n")
    return config


def test_url_local_plans_and_applies_keys_in_process(tmp_path: Path, run_cli: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    config = local_stack(tmp_path, monkeypatch)
    assert run_cli("validate", str(config)).code == 0
    planned = run_cli("plan", str(config), "--api-url", "local", "--detailed-exitcode")
    assert planned.code == 2 and "api_key.k" in planned.out, planned.out + planned.err
    applied = run_cli("apply", str(config), "--api-url", "local", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert (tmp_path / ".metorial-apply" / "metlo-emulator.sqlite3").exists()
    assert run_cli("plan", str(config), "--api-url", "local", "--detailed-exitcode").code == 0


def test_a_plan_saved_with_rotate_applies_the_rotation_it_shows(tmp_path: Path, run_cli: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    config = local_stack(tmp_path, monkeypatch)
    local = ("--api-url", "local")
    assert run_cli("apply", str(config), *local, "--auto-approve").code == 0
    shown = run_cli("plan", str(config), *local, "--rotate", "api_key.k")
    assert "Apply with: metorial-apply apply --rotate api_key.k" in shown.out, shown.out
    saved = tmp_path / "plan.json"
    assert run_cli("plan", str(config), *local, "--rotate", "api_key.k", "--out", str(saved)).code == 0
    bare = run_cli("apply", str(saved), *local, "--auto-approve", "--allow-delete")  # unkeyed: must be repeated
    assert bare.code != 0 and "--rotate api_key.k" in bare.err and "repeat it" in bare.err, bare.out + bare.err
    applied = run_cli("apply", str(saved), *local, "--auto-approve", "--allow-delete", "--rotate", "api_key.k")
    assert applied.code == 0, applied.out + applied.err
    assert "prod~k~2" in applied.out
    assert run_cli("plan", str(config), *local, "--detailed-exitcode").code == 0
