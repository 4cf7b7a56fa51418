"""`emulator serve --api metlo|metal` over real HTTP: the child process, its banner and its admin routes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from metorial_apply.emulator.process import EmulatorAdmin, EmulatorProcess, child_env, free_port
from metorial_apply.emulator.serve import emulator_group

from .conftest import METAL_ADMIN, METLO_ADMIN, metal_auth, metlo_auth

WINDOW_S = 3.0  # long enough that the check right after a delete falls inside it, even on a busy machine


@pytest.fixture
def metlo(tmp_path: Path) -> Iterator[EmulatorProcess]:
    with EmulatorProcess.start(tmp_path / "metlo.sqlite3", api="metlo") as server:
        yield server


def test_metlo_over_http_creates_lists_and_deletes_keys(metlo: EmulatorProcess, tmp_path: Path) -> None:
    made = httpx.post(f"{metlo.url}/api/v1/keys/create", json={"name": "ingest", "keyFor": "ONBOARDING"},
                      headers=metlo_auth())
    assert made.status_code == 200
    secret = made.json()["apiKey"]
    assert metlo.authenticate(secret)
    own = metlo_auth(secret)
    assert [k["name"] for k in httpx.get(f"{metlo.url}/api/v1/keys/onboarding", headers=own).json()] == ["ingest"]
    duplicate = httpx.post(f"{metlo.url}/api/v1/keys/create", json={"name": "ingest"}, headers=own)
    assert (duplicate.status_code, duplicate.text) == (400, "Can not create key with name ingest")
    for headers in ({}, metlo_auth("metlo_nope")):
        response = httpx.get(f"{metlo.url}/api/v1/keys/list", headers=headers)
        assert (response.status_code, response.text) == (401, "Client unauthorized")
    deleted = httpx.delete(f"{metlo.url}/api/v1/keys/ingest/delete", headers=metlo_auth())
    assert (deleted.status_code, deleted.json()) == (200, {"status": "OK"})
    assert not metlo.authenticate(secret)
    assert [k["name"] for k in metlo.api_keys() if k["status"] == "active"] == ["emulator-admin"]
    metlo.stop()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("metlo.sqlite3*"))
    assert stored and secret.encode() not in stored and METLO_ADMIN.encode() not in stored


def test_metal_revocation_waits_out_the_window_over_http(tmp_path: Path) -> None:
    flags = ("--revoke-delay-ms", str(int(WINDOW_S * 1000)))
    with EmulatorProcess.start(tmp_path / "metal.sqlite3", *flags, api="metal") as metal:
        made = httpx.post(f"{metal.url}/v1/keys", json={"name": "sync"}, headers=metal_auth())
        assert made.status_code == 201
        key = made.json()["data"]
        own = metal_auth(key["clientId"], key["key"])
        assert httpx.get(f"{metal.url}/v1/keys/current", headers=own).json()["data"]["id"] == key["id"]
        started = time.monotonic()
        assert httpx.delete(f"{metal.url}/v1/keys/{key['id']}", headers=metal_auth()).status_code == 200
        assert metal.authenticate(key["key"], key["clientId"])  # still inside the window
        while metal.authenticate(key["key"], key["clientId"]):
            assert time.monotonic() - started < WINDOW_S + 15, "the revoked key never stopped working"
            time.sleep(0.1)
        assert time.monotonic() - started >= WINDOW_S
        refused = httpx.get(f"{metal.url}/v1/keys/current", headers=own)
        assert (refused.status_code, refused.json()) == (401, {"error": "invalid api key or clientId"})


def test_a_dropped_create_over_http_is_committed(tmp_path: Path) -> None:
    with EmulatorProcess.start(tmp_path / "metal.sqlite3", api="metal") as metal:
        metal.faults(drop_next=1)
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(f"{metal.url}/v1/keys", json={"name": "lost"}, headers=metal_auth())
        assert [k["name"] for k in metal.api_keys()] == ["Emulator admin", "lost"]


def test_serve_prints_the_bootstrap_admin_credentials(tmp_path: Path) -> None:
    for api, expected in (("metlo", [METLO_ADMIN]), ("metal", [METAL_ADMIN["client_id"], METAL_ADMIN["api_key"]])):
        port = free_port()
        cmd = [sys.executable, "-m", "metorial_apply.emulator", "serve", "--api", api, "--port", str(port)]
        env = child_env({"PYTHONUNBUFFERED": "1"})
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        try:
            admin = EmulatorAdmin(f"http://127.0.0.1:{port}")
            deadline = time.monotonic() + 20
            while True:
                try:
                    assert admin.stats()["api"] == api
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline and process.poll() is None, "serve did not start"
                    time.sleep(0.05)
        finally:
            process.terminate()
            out, _ = process.communicate(timeout=20)
        banner = out.decode()
        assert f"listening on http://127.0.0.1:{port}" in banner
        assert all(value in banner for value in expected), banner


def test_serve_refuses_options_of_the_other_apis() -> None:
    runner = CliRunner()
    for args, message in (
        (["--api", "metlo", "--rate-limit", "dev"], "--rate-limit applies to --api metorial only"),
        (["--api", "metal", "--cascade-delay-ms", "5"], "--cascade-delay-ms applies to --api metorial only"),
        (["--revoke-delay-ms", "5"], "--revoke-delay-ms applies to --api metlo and --api metal only"),
        (["--api", "other"], "'other' is not one of"),
    ):
        result = runner.invoke(emulator_group, ["serve", "--port", "1", *args])
        assert result.exit_code == 2 and message in result.output, result.output


def test_the_readme_names_each_bootstrap_key() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    for value in (METLO_ADMIN, METAL_ADMIN["client_id"], METAL_ADMIN["api_key"]):
        assert value in readme
