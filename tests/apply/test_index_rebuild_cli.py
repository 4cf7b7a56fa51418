"""Deleted index records and `index rebuild`, an open run's claims, and sensitive values behind a
hand-edited stamp, through the real CLI and a real-HTTP emulator (helpers in
tests/apply/test_index_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from metorial_apply.core.index import INDEX_KEY, SHARD_KEY, head_metadata, is_index_record, read_index
from metorial_apply.core.lock import is_lock_record
from metorial_apply.core.runs import OpenRun
from tests.apply.test_index_cli import (
    AUTH,
    PREFIX,
    STACK,
    applied,
    by_address,
    cli,
    foreign_deployment,
    ok,
    planned,
    resources,
    set_metadata,
)
from tests.emulator_server import EmulatorProcess

ADVICE = "the index records were deleted. Restore them, or run `metorial-apply index rebuild --stack ix`"
WRITES = ("POST ", "PATCH ", "DELETE ")


def delete_index(server: EmulatorProcess) -> list[str]:
    """Archive every head and shard of any stack's index, as a user cleaning up templates would."""
    ids = [o["id"] for o in server.objects(status="active")
           if o.get("kind") == "session_template" and {INDEX_KEY, SHARD_KEY} & set(o.get("metadata") or {})]
    for id in ids:
        httpx.delete(f"{server.url}/session-templates/{id}", headers=AUTH, timeout=10).raise_for_status()
    return ids


def writes(server: EmulatorProcess) -> dict[str, int]:
    """Write calls since the last stats reset, by route."""
    return {k: n for k, n in server.stats()["calls"].items() if k.startswith(WRITES) and n}


def reset(server: EmulatorProcess) -> None:
    server.admin("POST", "/reset", json={"stats_only": True})


def active_records(server: EmulatorProcess) -> list[dict[str, Any]]:
    """The lock's and the index's active records."""
    return [o for o in server.objects(status="active") if is_lock_record(o) or is_index_record(o)]


def assert_refused_without_writes(server: EmulatorProcess, path: Path) -> None:
    """plan and apply stop with the rebuild advice; only the lock's own records are written."""
    before = resources(server)
    reset(server)
    for args in (("plan", str(path)), ("apply", str(path), "--auto-approve", "--allow-delete")):
        refused = ok(cli(server, *args), 1)
        assert ADVICE in refused.err and "Traceback" not in refused.err, refused.err
    assert set(writes(server)) <= {"POST /session-templates", "PATCH /session-templates/{id}",
                                   "DELETE /session-templates/{id}"}, writes(server)
    assert resources(server) == before and active_records(server) == []


def test_deleted_index_records_stop_every_write_until_a_rebuild_outside_ci(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK)
    ours = applied(emulator, path)
    assert len(delete_index(emulator)) == 2  # one head, one shard
    assert_refused_without_writes(emulator, path)
    reset(emulator)
    in_ci = cli(emulator, "index", "rebuild", "--stack", "ix", "--yes")  # run_cli sets CI=1
    assert in_ci.code != 0 and "--yes" in in_ci.err and "CI" in in_ci.err, in_ci.out + in_ci.err
    assert writes(emulator) == {} and active_records(emulator) == []
    rebuilt = ok(cli(emulator, "index", "rebuild", "--stack", "ix", "--yes", env={"CI": None}))
    for address, obj in ours.items():
        assert f"{address}" in rebuilt.out and obj["id"] in rebuilt.out, rebuilt.out
    assert "6 object(s)" in rebuilt.out, rebuilt.out
    ok(cli(emulator, "plan", str(path), "--detailed-exitcode"))


def test_a_rebuild_refuses_an_address_two_stamped_objects_claim_naming_both(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK)
    gh = applied(emulator, path)["deployment.gh"]
    copy = foreign_deployment(emulator, "copy")
    set_metadata(emulator, copy, gh["metadata"])
    delete_index(emulator)
    reset(emulator)
    refused = cli(emulator, "index", "rebuild", "--stack", "ix", "--yes", env={"CI": None})
    assert refused.code == 1 and "Traceback" not in refused.err, refused.out + refused.err
    assert "deployment.gh" in refused.err and gh["id"] in refused.err and copy["id"] in refused.err, refused.err
    assert active_records(emulator) == [] and set(writes(emulator)) <= {
        "POST /session-templates", "PATCH /session-templates/{id}", "DELETE /session-templates/{id}"}


def reopen(server: EmulatorProcess, stack: str, run: str, t0: str) -> None:
    """Rewrite the index head with `run`'s entry open again, as a run killed before its merge (or
    one whose change failed) leaves it; its lock record is gone, so its window ends at T0 + TTL."""
    templates = [o for o in server.objects(status="active") if o.get("kind") == "session_template"]
    index = read_index(stack, templates)
    assert index is not None and index.head is not None
    opened = index.model_copy(update={"open": (OpenRun(run=run, lock="set_gone", t0=t0, ttl_s=120.0),)})
    httpx.patch(f"{server.url}/session-templates/{index.head}", json={"metadata": head_metadata(opened, index.shards)},
                headers=AUTH, timeout=10).raise_for_status()


def test_an_object_only_an_open_run_claims_never_takes_the_address_the_index_gives_another(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    older = foreign_deployment(emulator, "older")  # made by hand before the stack's first apply
    path = tmp_path / "stack.yaml"
    path.write_text(STACK)
    ours = applied(emulator, path)
    gh = ours["deployment.gh"]
    reopen(emulator, "ix", gh["metadata"][PREFIX + "run"], older["created_at"])  # T0 before gh, however slow
    set_metadata(emulator, older, gh["metadata"])
    changes = planned(emulator, path)
    # the older copy may be the run's own lost create (a duplicate to delete), but the indexed
    # deployment keeps its address: nothing it or its dependents are is touched
    assert [(c["action"], c["address"], c["id"]) for c in changes] == [
        ("delete", f"deployment.gh~{older['id']}", older["id"])], changes


OLD, NEW = "canary-old-7f3a-never-print", "canary-new-91bc-never-print"
SENSITIVE = """\
stack: sc
deployments:
  gh: {{provider: github}}
configs:
  cfg: {{deployment: gh, description: "{desc}", value: {{base_url: "https://a"}}}}
"""


def every_output(server: EmulatorProcess, path: Path, env: dict[str, str | None]) -> tuple[str, list[Any]]:
    """What a plan prints or writes in every form, and its --json changes other than no-ops."""
    saved, markdown = path.with_name("plan.json"), path.with_name("plan.md")
    text = ok(cli(server, "plan", str(path), "--markdown", str(markdown), "--out", str(saved), env=env))
    as_json = ok(cli(server, "plan", str(path), "--json", env=env))
    shown = [ok(cli(server, "show", str(saved), "--format", f)) for f in ("text", "markdown", "json")]
    printed = [r.out + r.err for r in (text, as_json, *shown)]
    changes = [c for c in json.loads(as_json.out)["changes"] if c["action"] != "noop"]
    return "\n".join([*printed, markdown.read_text(), saved.read_text()]), changes


def test_a_stamp_stripped_of_its_sensitive_key_still_hides_the_old_and_the_new_value(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(SENSITIVE.format(desc="${env:CFG_DESC}"))
    ok(cli(emulator, "apply", str(path), "--auto-approve", env={"CFG_DESC": OLD}))
    cfg = by_address(emulator)["config.cfg"]
    assert cfg["description"] == OLD and cfg["metadata"][PREFIX + "sensitive"] == "description"
    stripped = {k: v for k, v in cfg["metadata"].items() if k != PREFIX + "sensitive"}
    set_metadata(emulator, cfg, stripped)
    steps = [
        ("env changed", SENSITIVE.format(desc="${env:CFG_DESC}"), stripped),
        # the YAML stops using a secret there: only the index still knows the live value is one
        ("now plain", SENSITIVE.format(desc="plain"), stripped),
        ("lock key added", SENSITIVE.format(desc="plain"), stripped | {PREFIX + "lock": "sc"}),
    ]
    for step, yaml, metadata in steps:
        path.write_text(yaml)
        set_metadata(emulator, cfg, metadata)
        text, changes = every_output(emulator, path, {"CFG_DESC": NEW})
        assert OLD not in text and NEW not in text, step
        assert "(secret changed)" in text, text  # the field is shown, its values are not
        assert [(c["action"], c["address"], c["id"]) for c in changes] == [("update", "config.cfg", cfg["id"])], step
