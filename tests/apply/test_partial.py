"""A change the API rejects skips exactly its dependents; independent changes land; exit 1;
the residual plan names what is left; no secret appears in any output or the journal.

The emulator runs over real HTTP in a uvicorn thread, wrapped so that the API rejects one
auth config's value the way a server-side schema check the client cannot predict would (the
local copy of the schema accepts it, so only the server can refuse it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from metorial_apply.emulator import EmulatorSettings
from tests.apply.conftest import run_cli
from tests.emulator_server import SECRET_KEY, EmulatorThread, request_body

CANARY = "tok_canary_91c4e7aa"
REJECTED = {"object": "error", "ok": False, "status": 400, "code": "invalid_data",
            "message": "Invalid data", "entity": "body",
            "errors": [{"code": "invalid_value", "message": "Token was revoked", "path": ["value", "token"]}]}


def rejecting(app: Any, path: str, name: str) -> Any:
    """ASGI wrapper: POST `path` with body name `name` gets the API's 400 invalid_data."""
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != path:
            return await app(scope, receive, send)
        body = await request_body(receive)
        if json.loads(body or b"{}").get("name") == name:
            payload = json.dumps(REJECTED).encode()
            await send({"type": "http.response.start", "status": 400, "headers": [
                (b"content-type", b"application/json"), (b"metorial-req-id", b"req_rejected1")]})
            return await send({"type": "http.response.body", "body": payload})
        replay = [{"type": "http.request", "body": body, "more_body": False}]
        return await app(scope, lambda: _pop(replay, receive), send)

    return wrapped


async def _pop(replay: list[dict[str, Any]], receive: Any) -> dict[str, Any]:
    return replay.pop() if replay else await receive()


@pytest.fixture
def rejecting_server(tmp_path: Path) -> Iterator[str]:
    settings = EmulatorSettings(db_path=str(tmp_path / "db.sqlite3"))
    with EmulatorThread(settings, wrap=lambda app: rejecting(app, "/provider-auth-configs", "gh-token")) as server:
        yield server.url


STACK = f"""\
stack: partial
deployments:
  gh: {{provider: github}}
  ln: {{provider: linear}}
configs:
  ln-cfg: {{deployment: ln, value: {{}}}}
auth_configs:
  gh-token: {{deployment: gh, method: token, value: {{token: "{CANARY}"}}}}
  ln-key: {{deployment: ln, method: api_key, value: {{api_key: k}}}}
session_templates:
  t-gh:
    providers: [{{deployment: gh, auth_config: gh-token}}]
  t-ln:
    providers: [{{deployment: ln, config: ln-cfg, auth_config: ln-key}}]
"""


def test_rejected_change_skips_exactly_its_dependents(rejecting_server: str, tmp_path: Path) -> None:
    path, journal = tmp_path / "stack.yaml", tmp_path / "journal.jsonl"
    path.write_text(STACK)
    env = {"METORIAL_API_URL": rejecting_server, "METORIAL_API_KEY": SECRET_KEY}
    result = run_cli(["apply", str(path), "--auto-approve", "--journal", str(journal)], env=env)
    assert result.code == 1
    out = result.out
    assert (
        "auth_config.gh-token" in out
        and "FAILED 400 invalid_data: Invalid data — value.token: Token was revoked" in out
    )
    assert "(POST /provider-auth-configs, request req_rejected1)" in out
    assert "session_template.t-gh" in out and "skipped: depends on auth_config.gh-token" in out
    assert "5 done, 1 failed, 1 skipped" in out
    assert "Left to do (run plan again after fixing): + auth_config.gh-token, + session_template.t-gh" in out
    objects = httpx.get(
        f"{rejecting_server}/_emulator/objects", params={"metadata[metorial-apply/stack]": "partial"}
    ).json()
    landed = sorted(o["metadata"]["metorial-apply/address"] for o in objects["items"])
    assert landed == ["auth_config.ln-key", "config.ln-cfg", "deployment.gh", "deployment.ln", "session_template.t-ln"]
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    outcomes = {line["address"]: line["outcome"] for line in lines if line["event"] == "change"}
    assert outcomes["auth_config.gh-token"] == "failed" and outcomes["session_template.t-gh"] == "skipped"
    assert any(line["event"] == "call" and line["status"] == 400 for line in lines)
    for text in (result.out, result.err, journal.read_text()):
        assert CANARY not in text
    plan = run_cli(["plan", str(path), "--detailed-exitcode"], env=env)
    assert plan.code == 2 and "+ auth_config.gh-token" in plan.out and CANARY not in plan.out


def test_without_a_terminal_or_auto_approve_apply_refuses_and_sends_nothing(
    rejecting_server: str, tmp_path: Path
) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK)
    env = {"METORIAL_API_URL": rejecting_server, "METORIAL_API_KEY": SECRET_KEY}
    result = run_cli(["apply", str(path)], env=env)
    assert result.code == 1
    assert "refusing to apply without confirmation (CI is set); pass --auto-approve" in result.err
    assert (
        httpx.get(f"{rejecting_server}/_emulator/objects", params={"metadata[metorial-apply/stack]": "partial"}).json()[
            "count"
        ]
        == 0
    )
