"""A server that quotes what it was sent (issue 21 item 3): a 400 whose message, hint, field
problems and request id carry the request body raw, JSON-escaped, URL-encoded and base64, and
the API key. Every secret of the run (environment, file, a variable read from the environment,
the API key, a key backend's freshly created key secret, a 5-character value) stays out of
stdout, stderr, the journal and every output file. Real CLI, real-HTTP emulator."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from metorial_apply.emulator import EmulatorSettings
from tests.apply.conftest import run_cli
from tests.emulator_server import SECRET_KEY, EmulatorThread, json_answer, request_body

ENV_CANARY = "env-canary-7f3a9b21c4"
FILE_CANARY = "file-canary-c0ffee4251"
VAR_CANARY = "var-canary-5e6d7c8b9a"
SHORT = "zq9x7"  # shorter than the scrubber's 8: scrubbed from server text only, as a whole word
STACK = """\
stack: echoes
variables: {token: "${env:VAR_SOURCE}"}
key_backends:
  metlo: {type: metlo, url: local}
api_keys:
  ingest: {backend: metlo}
deployments:
  gh: {provider: github}
configs:
  gh-cfg: {deployment: gh, value: {base_url: "${env:ECHO_URL}"}}
auth_configs:
  gh-token: {deployment: gh, method: token, value: {token: "${file:token.txt}"}}
  gh-var: {deployment: gh, method: token, value: {token: "${var.token}"}}
  gh-short: {deployment: gh, method: token, value: {token: "${env:ECHO_SHORT}"}}
config_vaults:
  ingest-key: {provider: metlo, value: {api_key: "${key.ingest.secret}"}}
"""


SECRET_KINDS = ("/provider-configs", "/provider-auth-configs", "/provider-config-vaults")


def echo(body: bytes, headers: dict[bytes, bytes]) -> dict[str, Any]:
    text = body.decode("utf-8", errors="replace")
    auth = headers.get(b"authorization", b"").decode()
    return {"object": "error", "ok": False, "status": 400, "code": "invalid_data",
            "message": f"Invalid data in {text} (key {auth})", "hint": "sent as " + base64.b64encode(body).decode(),
            "errors": [{"code": "invalid", "path": ["value"], "message": "form " + quote(text, safe="")},
                       {"code": "invalid", "path": ["value"], "message": "escaped " + json.dumps(text)}]}


def echoing(app: Any) -> Any:
    """ASGI wrapper: every write of a secret-holding kind is refused with a 400 that quotes the
    request (and its key)."""
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PATCH") or scope["path"] not in SECRET_KINDS:
            return await app(scope, receive, send)
        body = await request_body(receive)
        return await json_answer(send, 400, echo(body, dict(scope["headers"])),
                                 [(b"metorial-req-id", b"req_" + SECRET_KEY.encode())])

    return wrapped


@pytest.fixture
def echoing_server(tmp_path: Path) -> Iterator[str]:
    with EmulatorThread(EmulatorSettings(db_path=str(tmp_path / "db.sqlite3")), wrap=echoing) as server:
        yield server.url


def canaries(text: str) -> list[str]:
    forms = [ENV_CANARY, FILE_CANARY, VAR_CANARY, SECRET_KEY, f'"{SHORT}"', f" {SHORT} "]
    return [c for c in forms if c in text] + [c for c in (ENV_CANARY, FILE_CANARY, VAR_CANARY)
                                              if base64.b64encode(c.encode()).decode()[:12] in text]


def test_a_server_that_echoes_the_request_leaks_no_secret(echoing_server: str, tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(STACK)
    (tmp_path / "token.txt").write_text(FILE_CANARY)
    env = {"METORIAL_API_URL": echoing_server, "METORIAL_API_KEY": SECRET_KEY, "ECHO_URL": ENV_CANARY,
           "ECHO_SHORT": SHORT, "VAR_SOURCE": VAR_CANARY}
    journal = tmp_path / "apply.jsonl"
    applied = run_cli(["apply", str(tmp_path), "--auto-approve", "--journal", str(journal)], env=env)
    assert applied.code == 1, applied.out + applied.err
    failed = [json.loads(line) for line in journal.read_text().splitlines()]
    errors = [e for e in failed if e.get("event") == "change" and e.get("error")]
    # The echo did reach the outputs (a failed change per resource, with the server's words) …
    assert len(errors) >= 4 and any("Invalid data in" in e["error"] for e in errors), errors
    assert "400 invalid_data" in applied.out
    # … and not one secret came with it, in any of its forms.
    for name, text in (("stdout", applied.out), ("stderr", applied.err), ("journal", journal.read_text())):
        assert canaries(text) == [], (name, text)


def test_plan_outputs_stay_clean_when_a_list_is_refused_with_an_echo(tmp_path: Path) -> None:
    """A read refused with the API key quoted: the error line, --out, --markdown and --json."""
    def refusing(app: Any) -> Any:
        async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http" or scope["path"] != "/provider-deployments":
                return await app(scope, receive, send)
            return await json_answer(send, 400, echo(b"", dict(scope["headers"])))
        return wrapped

    (tmp_path / "stack.yaml").write_text(STACK)
    (tmp_path / "token.txt").write_text(FILE_CANARY)
    env = {"METORIAL_API_KEY": SECRET_KEY, "ECHO_URL": ENV_CANARY, "ECHO_SHORT": SHORT, "VAR_SOURCE": VAR_CANARY}
    with EmulatorThread(EmulatorSettings(db_path=str(tmp_path / "db.sqlite3")), wrap=refusing) as server:
        result = run_cli(["plan", str(tmp_path), "--out", str(tmp_path / "plan.json"), "--markdown",
                          str(tmp_path / "plan.md"), "--json"], env=env | {"METORIAL_API_URL": server.url})
    assert result.code == 1 and result.err.startswith("Error: 400 invalid_data: Invalid data in"), result.err
    assert canaries(result.out + result.err) == []
    assert not (tmp_path / "plan.json").exists() and not (tmp_path / "plan.md").exists()
