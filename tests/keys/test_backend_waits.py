"""Key backends wait and read within the run's own bounds (issue 21 item 6): `--max-wait` and
`--timeout` apply to them as to the Metorial API, so a backend that keeps answering 429 or
trickles its body stops the run in time with a one-line error, never a silent wait."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.apply.conftest import run_cli
from tests.keys.conftest import serve_handler

CONFIG = """\
stack: waits
key_backends:
  metlo: {type: metlo, url: "${env:METLO_URL}", api_key: "${env:METLO_ADMIN_KEY}"}
api_keys:
  ingest: {backend: metlo}
"""


class Hostile(BaseHTTPRequestHandler):
    mode = "429"

    def do_GET(self) -> None:  # the stdlib calls it by this name
        if self.mode == "429":
            self.send_response(429)
            self.send_header("Retry-After", "50")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        for _ in range(100):  # a body that trickles for 100 s
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(1)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(params=["429", "trickle"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    with serve_handler(type("Handler", (Hostile,), {"mode": request.param})) as url:
        yield url


def test_a_hostile_key_backend_stops_the_plan_within_the_runs_bounds(backend: str, tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(CONFIG)
    started = time.monotonic()
    result = run_cli(["plan", str(tmp_path), "--api-url", "local", "--max-wait", "5", "--timeout", "3",
                      "--secrets-out", str(tmp_path / "keys.env")],
                     env={"METLO_URL": backend, "METLO_ADMIN_KEY": "metlo_admin_0123456789abcdef",
                          "METORIAL_APPLY_KEY_URL_VARS": "METLO_URL"})
    elapsed = time.monotonic() - started
    assert result.code == 1 and "Traceback" not in result.err, result.out + result.err
    assert elapsed < 30, elapsed  # 50 s Retry-After or a 100 s trickle: neither is waited out
    assert "--max-wait" in result.err or "--timeout" in result.err, result.err
