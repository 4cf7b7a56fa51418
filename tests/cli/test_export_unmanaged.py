"""The unmanaged export round trip (issue 13, done-when 2): an organization of 50+ objects of
every kind made by hand (no stamp) → `export` → env set from the same secrets → the first plan
has only imports (no create, update, delete or replace) → apply makes no object → the next plan
is empty; no secret in any exported file or output.

Needs `imports:` (branch `imports`). Goes in tests/cli/ beside test_export.py and handmade.py
(branch `export`). Run: python -m pytest -q -p no:cacheprovider tests/cli/test_export_unmanaged.py -n0
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from tests.bookkeeping import is_bookkeeping
from tests.cli.handmade import make_organization
from tests.cli.runner import run
from tests.cli.test_export import api, env_example
from tests.emulator_server import SECRET_KEY, EmulatorProcess

CANARY = "unmanaged-canary-5b1c"
KIND_PATHS = ("/provider-deployments", "/provider-config-vaults", "/provider-configs", "/provider-auth-configs",
              "/provider-auth-credentials", "/session-templates")


def active_ids(server: EmulatorProcess) -> set[str]:
    """Every active object of the managed kinds, read through the raw API (not the code under test),
    but the stack lock's and stack index's own records."""
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    out: set[str] = set()
    for path in KIND_PATHS:
        after = None
        for _ in range(100):
            params = {"limit": 100, **({"after": after} if after else {})}
            body = httpx.get(server.url + path, params=params, headers=headers, timeout=10).json()
            out |= {o["id"] for o in body["items"] if o.get("status", "active") == "active" and not is_bookkeeping(o)}
            if not body.get("pagination", {}).get("has_more_after") or not body["items"]:
                break
            after = body["items"][-1]["id"]
    return out


def test_an_unmanaged_organization_round_trips(emulator: EmulatorProcess, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    org = make_organization(emulator.url, CANARY)
    assert org.count >= 50 and len(org.ids) == 6
    out = tmp_path / "adopted"
    code, stdout, stderr = run(capsys, "export", "--out", str(out), "--as-stack", "adopted", *api(emulator))
    assert code == 0, stderr
    outputs = [stdout, stderr] + [p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file()]
    doc = yaml.safe_load((out / "stack.yaml").read_text(encoding="utf-8"))
    ids = {i["to"]: i["id"] for i in doc["imports"]}
    assert set(ids.values()) == {i for v in org.ids.values() for i in v}
    # The env is set from the very secrets the objects were made with.
    for name, feeds in env_example(out).items():
        address, path = feeds.split(" ")
        monkeypatch.setenv(name, org.values[(ids[address], path)])
    before = active_ids(emulator)

    code, stdout, stderr = run(capsys, "plan", str(out), "--json", *api(emulator))
    assert code == 0, stdout + stderr
    outputs += [stdout, stderr]
    plan = json.loads(stdout)
    actions = [c["action"] for c in plan["changes"] if c["action"] != "noop"]
    assert actions == ["import"] * len(ids), sorted(set(actions))
    assert {c["address"] for c in plan["changes"]} == set(ids)

    code, stdout, stderr = run(capsys, "apply", str(out), "--auto-approve", *api(emulator))
    assert code == 0, stdout + stderr
    outputs += [stdout, stderr]
    assert active_ids(emulator) == before  # nothing created, nothing deleted: same ids
    assert {o["id"] for o in emulator.objects(stack="adopted", status="active")} >= set(ids.values())

    code, stdout, stderr = run(capsys, "plan", str(out), "--detailed-exitcode", *api(emulator))
    assert code == 0, stdout + stderr
    assert "No changes." in stdout
    outputs += [stdout, stderr]
    for text in outputs:
        assert CANARY not in text and not any(secret in text for secret in org.secrets)
