"""A key backend whose error quotes the request's credentials (issue 21 item 3): the admin key
it was sent never reaches stdout or stderr, raw or base64 (a Basic auth echo)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.apply.conftest import run_cli
from tests.keys.conftest import serve_handler

ADMIN_KEY = "metlo_admin_canary_e1c2d3f4a5b6"
CONFIG = """\
stack: echo
key_backends:
  metlo: {type: metlo, url: "${env:METLO_URL}", api_key: "${env:METLO_ADMIN_KEY}"}
api_keys:
  ingest: {backend: metlo}
config_vaults:
  ingest-key: {provider: metlo, value: {api_key: "${key.ingest.secret}"}}
"""


class Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # the stdlib calls it by this name
        key = self.headers.get("Authorization", "")
        body = (f"Client unauthorized: {key} (basic {base64.b64encode(f'admin:{key}'.encode()).decode()})").encode()
        self.send_response(401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_backend() -> Iterator[str]:
    with serve_handler(Echo) as url:
        yield url


def test_a_backend_echoing_its_credentials_leaks_none(echo_backend: str, tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(CONFIG)
    result = run_cli(["plan", str(tmp_path), "--api-url", "local"],
                     env={"METLO_URL": echo_backend, "METLO_ADMIN_KEY": ADMIN_KEY,
                          "METORIAL_APPLY_KEY_URL_VARS": "METLO_URL"})
    assert result.code == 1 and "Client unauthorized: ***" in result.err, result.out + result.err
    assert ADMIN_KEY not in result.out + result.err
    assert base64.b64encode(f"admin:{ADMIN_KEY}".encode()).decode()[8:30] not in result.out + result.err
