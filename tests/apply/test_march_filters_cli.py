"""The March 2026 engine resets a deployment's tool filter to "all tools" on a PATCH without
`tool_filters` (emulator/choices.py, PATCH; `emulator serve --patch-resets-tool-filters`). The
client sends `tool_filters` on every deployment PATCH, so renaming or restamping keeps them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.apply.conftest import run_cli
from tests.emulator_server import SECRET_KEY, EmulatorProcess

STACK = """\
stack: march
deployments:
  gh: {{provider: github, description: {desc}, tools: [create_issue]}}
"""
FILTER = {"type": "filter", "filters": [{"type": "tool_keys", "keys": ["create_issue"]}],
          "ignore_parent_filters": False}


@pytest.fixture
def march(tmp_path: Path) -> Any:
    with EmulatorProcess.start(tmp_path / "march.sqlite3", "--patch-resets-tool-filters") as server:
        yield server


def cli(server: EmulatorProcess, *args: str) -> tuple[int, str]:
    result = run_cli(list(args), env={"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY})
    return result.code, result.out + result.err


def deployment(server: EmulatorProcess) -> dict[str, Any]:
    (listed,) = [o for o in server.objects("march", status="active") if o["kind"] == "deployment"]
    response = httpx.get(f"{server.url}/provider-deployments/{listed['id']}",
                         headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=10)
    return dict(response.json())


def test_the_march_fault_resets_a_filter_a_patch_leaves_out(march: EmulatorProcess) -> None:
    """The fault itself, over HTTP: the filter survives a PATCH that names it, not one that does not."""
    auth = {"Authorization": f"Bearer {SECRET_KEY}"}
    rule = {"type": "tool_keys", "keys": ["create_issue"]}
    made = httpx.post(f"{march.url}/provider-deployments", headers=auth, timeout=10,
                      json={"provider_id": "github", "tool_filters": rule}).json()
    url = f"{march.url}/provider-deployments/{made['id']}"
    assert httpx.patch(url, headers=auth, json={"name": "a", "tool_filters": [rule]}, timeout=10).json()[
        "tool_filter"] == FILTER
    assert httpx.patch(url, headers=auth, json={"name": "b"}, timeout=10).json()["tool_filter"]["type"] == "allow_all"


def test_a_description_change_keeps_the_filter_and_converges(march: EmulatorProcess, tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(STACK.format(desc="one"))
    assert cli(march, "apply", str(stack), "--auto-approve")[0] == 0
    stack.write_text(STACK.format(desc="two"))
    code, out = cli(march, "apply", str(stack), "--auto-approve")
    assert code == 0, out
    after = deployment(march)
    assert (after["description"], after["tool_filter"]) == ("two", FILTER)
    assert cli(march, "plan", str(stack), "--detailed-exitcode")[0] == 0  # nothing left to put back
