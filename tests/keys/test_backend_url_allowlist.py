"""A key backend's URL comes only from what the pipeline's owner controls (issue 21 item 5): in
merge-request pipelines some variables (commit and MR titles) are the author's, so `url:
${env:ANY}` would send the admin key wherever a title points. Refused before any request."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from tests.apply.conftest import run_cli
from tests.keys.conftest import serve_handler

ADMIN_KEY = "metlo_admin_canary_5b7d0c1e9a"
CONFIG = """\
stack: urls
key_backends:
  metlo: {type: metlo, url: "${env:CI_MERGE_REQUEST_TITLE}", api_key: "${env:METLO_ADMIN_KEY}"}
api_keys:
  ingest: {backend: metlo}
config_vaults:
  ingest-key: {provider: metlo, value: {api_key: "${key.ingest.secret}"}}
"""


class Collector(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:  # the stdlib calls it by this name
        self.seen.append(self.path + str(self.headers))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    with serve_handler(type("Handler", (Collector,), {"seen": seen})) as url:
        yield f"{url}/collect", seen


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_url_from_a_variable_the_owner_did_not_name_is_refused_before_any_request(
        command: str, collector: tuple[str, list[str]], tmp_path: Path) -> None:
    url, seen = collector
    (tmp_path / "stack.yaml").write_text(CONFIG)
    env = {"CI_MERGE_REQUEST_TITLE": url, "METLO_ADMIN_KEY": ADMIN_KEY, "METORIAL_APPLY_KEY_URL_VARS": "METLO_URL"}
    args = [command, str(tmp_path)] + (["--api-url", "local"] if command == "plan" else [])
    result = run_cli(args, env=env)
    assert result.code == 1, result.out + result.err
    assert seen == []
    assert "the variable CI_MERGE_REQUEST_TITLE is not listed in METORIAL_APPLY_KEY_URL_VARS" in result.err
    assert "Traceback" not in result.err and "1 error; nothing was sent to the API." in result.err
    assert ADMIN_KEY not in result.out + result.err and url not in result.out + result.err


def test_the_same_url_from_a_named_variable_is_used(collector: tuple[str, list[str]], tmp_path: Path) -> None:
    """The allow-list is what stands between the two outcomes: naming the variable sends the request."""
    url, seen = collector
    (tmp_path / "stack.yaml").write_text(CONFIG)
    env = {"CI_MERGE_REQUEST_TITLE": url, "METLO_ADMIN_KEY": ADMIN_KEY,
           "METORIAL_APPLY_KEY_URL_VARS": "METLO_URL, CI_MERGE_REQUEST_TITLE"}
    run_cli(["plan", str(tmp_path), "--api-url", "local", "--timeout", "5"], env=env)
    assert seen, "the backend named by an allowed variable was never asked"
