"""A saved plan is untrusted input: forged plan files (another resource's id, `protect` cleared,
an update turned into a delete), re-checksummed as an attacker would, are refused and nothing
is written; with a fingerprint key only a plan signed under the key's checksum subkey is taken.
The real CLI against a real-HTTP emulator, writes counted by the emulator itself."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from metorial_apply.core.fingerprint import FingerprintKey
from metorial_apply.core.lock import is_lock_record
from metorial_apply.planning.saved import canonical_json, checksum, checksum_subkey
from tests.apply.conftest import run_cli
from tests.emulator_server import SECRET_KEY, EmulatorProcess

KEY = "k" * 40
STACK = """\
stack: forged
deployments:
  gh: {{provider: github, description: {desc}}}
{keep}"""
KEEP = "  keep: {provider: github, description: kept, protect: true}\n"


def write(path: Path, desc: str, keep: bool = True) -> None:
    path.write_text(STACK.format(desc=desc, keep=KEEP if keep else ""))


def env(server: EmulatorProcess, key: str | None = None) -> dict[str, str]:
    base = {"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY}
    return base | ({"METORIAL_APPLY_FINGERPRINT_KEY": key} if key else {})


def ok(args: list[str], server: EmulatorProcess, key: str | None = None) -> str:
    result = run_cli(args, env=env(server, key))
    assert result.code == 0, result.out + result.err
    return result.out


def writes(server: EmulatorProcess) -> int:
    """Every non-GET call the emulator has answered since its counters were reset, but the stack
    lock's (this stack has no session templates: the only ones written are the lock's record)."""
    return sum(n for route, n in server.stats()["calls"].items()
               if not route.upper().startswith("GET") and "/session-templates" not in route)


def resources(server: EmulatorProcess) -> list[dict[str, Any]]:
    """Every object, archived too, but stack lock records."""
    return [o for o in server.objects() if not is_lock_record(o)]


def unmanaged(server: EmulatorProcess) -> str:
    """A deployment someone else made in the organization: no stamp, not ours to touch."""
    response = httpx.post(f"{server.url}/provider-deployments", headers={"Authorization": f"Bearer {SECRET_KEY}"},
                          json={"provider_id": provider_id(server), "name": "theirs", "description": "not yours"})
    response.raise_for_status()
    return str(response.json()["id"])


def provider_id(server: EmulatorProcess) -> str:
    listed = httpx.get(f"{server.url}/providers", headers={"Authorization": f"Bearer {SECRET_KEY}"}).json()
    return str(next(p["id"] for p in listed["items"] if p["slug"] == "github"))


def resign_sha256(data: dict[str, Any]) -> str:
    """What an attacker does after editing: recompute the documented plain checksum."""
    body = {k: v for k, v in data.items() if k != "checksum"}
    return json.dumps(body | {"checksum": "sha256:" + hashlib.sha256(canonical_json(body).encode()).hexdigest()})


def change(data: dict[str, Any], address: str) -> dict[str, Any]:
    return next(c for c in data["changes"] if c["address"] == address)


def swap_id(other: str) -> Callable[[dict[str, Any]], None]:
    return lambda d: change(d, "deployment.gh").update(id=other)


def clear_protect(d: dict[str, Any]) -> None:
    change(d, "deployment.keep").update(protect=False)


def update_to_delete(d: dict[str, Any]) -> None:
    change(d, "deployment.gh").update(action="delete", reason="not in config", after=None)


@pytest.fixture
def planned(emulator: EmulatorProcess, tmp_path: Path) -> tuple[Path, Path, str]:
    """Applied stack, an unmanaged deployment beside it, and a saved plan that updates gh and
    deletes the protected `keep` (which apply refuses: it is protected)."""
    path, saved = tmp_path / "stack.yaml", tmp_path / "plan.json"
    write(path, "one")
    ok(["apply", str(path), "--auto-approve"], emulator)
    other = unmanaged(emulator)
    write(path, "two", keep=False)
    ok(["plan", str(path), "--out", str(saved)], emulator)
    return path, saved, other


@pytest.mark.parametrize("forge", ["swap_id", "clear_protect", "update_to_delete"])
def test_forged_plan_is_refused_and_nothing_is_written(
    emulator: EmulatorProcess, planned: tuple[Path, Path, str], forge: str
) -> None:
    _, saved, other = planned
    edit = {"swap_id": swap_id(other), "clear_protect": clear_protect, "update_to_delete": update_to_delete}[forge]
    data = json.loads(saved.read_text())
    edit(data)
    saved.write_text(resign_sha256(data))
    before = resources(emulator)
    emulator.admin("POST", "/reset", json={"stats_only": True})
    result = run_cli(["apply", str(saved), "--auto-approve", "--allow-delete", "--force"], env=env(emulator))
    assert result.code == 1, result.out + result.err
    assert "the saved plan does not match the plan made now" in result.err
    field = {"swap_id": "'id'", "clear_protect": "'protect'", "update_to_delete": "'action'"}[forge]
    assert f"differs in {field}" in result.err
    assert writes(emulator) == 0
    assert resources(emulator) == before


def test_the_untouched_plan_applies_with_ids_from_the_live_read(
    emulator: EmulatorProcess, planned: tuple[Path, Path, str]
) -> None:
    path, saved, other = planned
    result = run_cli(["apply", str(saved), "--auto-approve", "--allow-delete"], env=env(emulator))
    assert result.code == 1 and "protected" in result.err  # the protect flag came from live, not the file
    write(path, "two")
    ok(["plan", str(path), "--out", str(saved)], emulator)
    assert "1 done, 0 failed" in ok(["apply", str(saved), "--auto-approve"], emulator)
    theirs = next(o for o in emulator.objects() if o["id"] == other)
    assert theirs["description"] == "not yours" and theirs["status"] != "archived"


def test_with_a_key_only_a_plan_signed_under_its_subkey_is_taken(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    path, saved = tmp_path / "stack.yaml", tmp_path / "plan.json"
    write(path, "one")
    ok(["apply", str(path), "--auto-approve"], emulator, KEY)
    write(path, "two")
    ok(["plan", str(path), "--out", str(saved)], emulator, KEY)
    data = json.loads(saved.read_text())
    key = FingerprintKey.parse(KEY)
    body = {k: v for k, v in data.items() if k != "checksum"}
    assert data["checksum"] == checksum(body, key) and data["checksum"].startswith(f"hmac-sha256:{key.key_id}:")
    # the subkey is neither the key nor anything the fingerprints use
    assert checksum_subkey(key) not in (key.material, KEY.encode()) and KEY not in saved.read_text()
    update_to_delete(data)
    saved.write_text(resign_sha256(data))
    emulator.admin("POST", "/reset", json={"stats_only": True})
    forged = run_cli(["apply", str(saved), "--auto-approve", "--allow-delete"], env=env(emulator, KEY))
    assert forged.code == 1 and "not signed with the key" in forged.err
    assert emulator.stats()["total_calls"] == 0  # refused before any request
    ok(["plan", str(path), "--out", str(saved)], emulator, KEY)
    unsigned = run_cli(["apply", str(saved), "--auto-approve"], env=env(emulator))
    assert unsigned.code == 1 and "signed with a key" in unsigned.err
    other_key = run_cli(["apply", str(saved), "--auto-approve"], env=env(emulator, "o" * 40))
    assert other_key.code == 1 and "checksum mismatch" in other_key.err
    as_json = tmp_path / "as.json"
    as_json.write_text(ok(["plan", str(path), "--json"], emulator, KEY))
    assert "1 done, 0 failed" in ok(["apply", str(as_json), "--auto-approve"], emulator, KEY)


def test_a_targeted_saved_plan_is_rebuilt_with_its_targets_and_applies(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    path, saved = tmp_path / "stack.yaml", tmp_path / "plan.json"
    write(path, "one")
    ok(["apply", str(path), "--auto-approve"], emulator)
    path.write_text(STACK.format(desc="two", keep="  keep: {provider: github, description: changed, protect: true}\n"))
    ok(["plan", str(path), "--target", "deployment.gh", "--out", str(saved)], emulator)
    assert [c["address"] for c in json.loads(saved.read_text())["changes"]] == ["deployment.gh"]
    out = ok(["apply", str(saved), "--auto-approve"], emulator)
    assert "1 done, 0 failed" in out and "deployment.keep" not in out
    descriptions = {o["name"]: o["description"] for o in emulator.objects("forged")}
    assert descriptions == {"gh": "two", "keep": "kept"}


def test_the_stack_comes_from_the_config_or_the_command_line_never_from_the_file(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    path, saved = tmp_path / "stack.yaml", tmp_path / "plan.json"
    write(path, "one", keep=False)
    ok(["plan", str(path), "--stack", "elsewhere", "--out", str(saved)], emulator)
    refused = run_cli(["apply", str(saved), "--auto-approve"], env=env(emulator))
    assert refused.code == 1 and "never from the plan file" in refused.err
    assert emulator.objects("elsewhere") == [] and emulator.objects("forged") == []
    assert "1 done, 0 failed" in ok(["apply", str(saved), "--stack", "elsewhere", "--auto-approve"], emulator)
    assert [o["name"] for o in emulator.objects("elsewhere")] == ["gh"]
