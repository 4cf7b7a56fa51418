"""Over real HTTP: uvicorn in a thread, curl, dropped connections, concurrency, file DBs, CLI."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from metorial_apply.emulator import DEFAULT_PUBLISHABLE_KEY, DEFAULT_SECRET_KEY, EmulatorSettings, FaultSettings
from metorial_apply.emulator.serve import emulator_group
from tests.emulator_server import EmulatorThread

from .conftest import SK

CURL = shutil.which("curl")


def curl(url: str, *args: str) -> tuple[int, dict]:
    """(status, JSON body) via curl, or httpx when curl is missing."""
    if CURL is None:
        headers = dict(a.split(": ", 1) for a in args[1::2] if ": " in a)
        response = httpx.request(
            "POST" if "-X" in args else "GET", url, headers=headers, content=b"{}" if "-d" in args else None
        )
        return response.status_code, response.json()
    out = subprocess.run(
        [CURL, "-s", "-w", "\n%{http_code}", *args, url], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    body, _, code = out.rpartition("\n")
    return int(code), json.loads(body)


def test_curl_lists_deployments_with_the_secret_key(live_server: EmulatorThread) -> None:
    status, body = curl(f"{live_server.url}/provider-deployments", "-H", f"Authorization: Bearer {DEFAULT_SECRET_KEY}")
    assert (
        status == 200 and body["object"] == "list" and set(body["pagination"]) == {"has_more_before", "has_more_after"}
    )
    assert body["items"] and body["items"][0]["object"] == "provider.deployment"


def test_curl_wrong_key_is_401(live_server: EmulatorThread) -> None:
    status, body = curl(f"{live_server.url}/provider-deployments", "-H", "Authorization: Bearer metorial_sk_wrong")
    assert status == 401 and body["code"] == "unauthorized" and body["object"] == "error" and body["ok"] is False


def test_curl_publishable_post_is_403(live_server: EmulatorThread) -> None:
    status, body = curl(
        f"{live_server.url}/provider-deployments",
        "-X",
        "POST",
        "-H",
        f"Authorization: Bearer {DEFAULT_PUBLISHABLE_KEY}",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"provider_id":"github"}',
    )
    assert status == 403
    assert set(body) >= {"object", "ok", "status", "code", "message"}
    assert body["object"] == "error" and body["ok"] is False and body["status"] == 403 and body["code"] == "forbidden"


def test_headers_over_http(live_server: EmulatorThread) -> None:
    response = httpx.get(f"{live_server.url}/providers", headers={**SK, "Metorial-Version": "2026-02-01"})
    assert response.status_code == 200
    assert response.headers["metorial-version"] == "2026-02-01" and response.headers["metorial-req-id"].startswith(
        "req_"
    )
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(response.headers)
    assert "retry-after" not in response.headers


def test_admin_over_http(live_server: EmulatorThread) -> None:
    stats = httpx.get(f"{live_server.url}/_emulator/stats").json()
    assert stats["total_calls"] >= 0 and "calls" in stats
    assert httpx.get(f"{live_server.url}/_emulator/stats", headers=SK).status_code == 404


def test_dropped_response_closes_the_connection() -> None:
    with EmulatorThread(EmulatorSettings(faults=FaultSettings(drop_rate=1.0))) as server:
        with httpx.Client(base_url=server.url, headers=SK, timeout=5) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                client.post("/session-templates", json={"name": "dropped", "metadata": {"stamp": "http-drop"}})
            assert client.get("/session-templates").status_code == 200  # reads are answered
        dump = httpx.get(
            f"{server.url}/_emulator/objects", params={"kind": "session_template", "metadata[stamp]": "http-drop"}
        ).json()
        assert dump["count"] == 1
        assert httpx.get(f"{server.url}/_emulator/stats").json()["faults"]["drop"] == 1


def test_concurrent_writes_over_http() -> None:
    async def run(url: str) -> list[str]:
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=url, headers=SK, limits=limits, timeout=10) as client:
            async def one(index: int) -> str:
                response = await client.post("/session-templates", json={"name": f"c{index}"})
                assert response.status_code == 200, response.text
                return str(response.json()["id"])

            return await asyncio.gather(*(one(i) for i in range(60)))

    with EmulatorThread(EmulatorSettings(faults=FaultSettings(latency_ms=5, jitter_ms=5))) as server:
        ids = asyncio.run(run(server.url))
        assert len(set(ids)) == 60
        listed = httpx.get(f"{server.url}/session-templates", params={"limit": 100}, headers=SK).json()["items"]
        assert sorted(ids) == [t["id"] for t in listed]


def test_file_database_survives_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "emulator.sqlite")
    with EmulatorThread(EmulatorSettings(db_path=db)) as server:
        first = httpx.post(f"{server.url}/session-templates", json={"name": "kept"}, headers=SK).json()
        defaults = httpx.get(f"{server.url}/provider-deployments", headers=SK).json()["items"]
    with EmulatorThread(EmulatorSettings(db_path=db)) as server:
        assert httpx.get(f"{server.url}/session-templates/{first['id']}", headers=SK).json()["name"] == "kept"
        second = httpx.post(f"{server.url}/session-templates", json={"name": "next"}, headers=SK).json()
        assert second["id"] > first["id"]  # ids keep sorting in creation order across restarts
        again = httpx.get(f"{server.url}/provider-deployments", headers=SK).json()["items"]
        assert [d["id"] for d in again] == [d["id"] for d in defaults]  # defaults are not reseeded


def test_cli_refuses_non_loopback_host() -> None:
    result = CliRunner().invoke(emulator_group, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code != 0 and "loopback" in result.output


def test_cli_rejects_bad_rate_limit() -> None:
    result = CliRunner().invoke(emulator_group, ["serve", "--rate-limit", "lots"])
    assert result.exit_code != 0 and "COUNT/SECONDS" in result.output


def test_python_dash_m_help() -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "metorial_apply.emulator", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=root,
    )
    assert result.returncode == 0 and "--burst-429-rate" in result.stdout
