"""The signed stack index (issue 20, item 5), through the real CLI against an emulator: with the
apply job's key, tampering (an entry added, ids swapped, an older head put back) is refused by
plan and apply with 0 writes; without a key, a forged entry never causes a delete."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from metorial_apply.core.index import (
    DIGEST_KEY,
    ENTRY_PREFIX,
    GENERATION_KEY,
    INDEX_KEY,
    SHARD_KEY,
    SHARDS_KEY,
    WRITTEN_KEY,
    Index,
    ShardRef,
    digest_of,
    head_metadata,
)
from metorial_apply.core.signing import new_pair
from tests.apply.conftest import Result, run_cli
from tests.bookkeeping import is_bookkeeping
from tests.emulator_server import SECRET_KEY, EmulatorProcess

HEADERS = {"Authorization": f"Bearer {SECRET_KEY}"}
STACK = """\
stack: signed
deployments:
  d0: {provider: github, description: first}
  d1: {provider: github, description: second}
"""
PRIVATE, PUBLIC = new_pair()
APPLY_ENV = {"METORIAL_APPLY_INDEX_KEY": base64.b64encode(PRIVATE).decode()}
PLAN_ENV = {"METORIAL_APPLY_INDEX_PUBKEY": base64.b64encode(PUBLIC).decode()}


def cli(server: EmulatorProcess, *args: str, env: dict[str, str] | None = None) -> Result:
    return run_cli(list(args), env={"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY} | (env or {}))


def records(server: EmulatorProcess) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The stack's index head and its shards, as stored."""
    active = server.objects(status="active")
    [head] = [o for o in active if (o.get("metadata") or {}).get(INDEX_KEY) == "signed"]
    by_id = {o["id"]: o for o in active}
    return head, [by_id[i] for i in head["metadata"][SHARDS_KEY].split(",")]


def patch(server: EmulatorProcess, id: str, metadata: dict[str, Any]) -> None:
    httpx.patch(f"{server.url}/session-templates/{id}", headers=HEADERS, json={"metadata": metadata},
                timeout=10).raise_for_status()


def resources(server: EmulatorProcess) -> list[tuple[str, str, str]]:
    """Every object but lock and index records: (id, status, metadata as JSON)."""
    return sorted((o["id"], str(o.get("status")), json.dumps(o.get("metadata"), sort_keys=True))
                  for o in server.objects() if not is_bookkeeping(o))


def add_entry(server: EmulatorProcess) -> None:
    _, [shard] = records(server)
    entries = {k: v for k, v in shard["metadata"].items() if k.startswith(ENTRY_PREFIX)}
    entries[ENTRY_PREFIX + "pde_forged"] = json.dumps({"address": "deployment.d9", "spec-hash": "sha256:0"})
    patch(server, shard["id"], entries | {SHARD_KEY: "signed", DIGEST_KEY: digest_of(entries)})


def swap_ids(server: EmulatorProcess) -> None:
    _, [shard] = records(server)
    metadata = dict(shard["metadata"])
    a, b = sorted(k for k in metadata if k.startswith(ENTRY_PREFIX))[:2]
    metadata[a], metadata[b] = metadata[b], metadata[a]
    patch(server, shard["id"], metadata)


def add_entry_redigested(server: EmulatorProcess) -> None:
    """What anyone without the key can do: an entry added, every digest made to match again."""
    head, [shard] = records(server)
    entries = {k: v for k, v in shard["metadata"].items() if k.startswith(ENTRY_PREFIX)}
    entries[ENTRY_PREFIX + "pde_forged"] = json.dumps({"address": "deployment.d9", "spec-hash": "sha256:0"})
    forge_consistently(server, head, shard, entries)


def older_head(server: EmulatorProcess, first: dict[str, Any]) -> None:
    head, _ = records(server)
    patch(server, head["id"], first["metadata"])


@pytest.mark.parametrize("tamper", ["add_entry", "add_entry_redigested", "swap_ids", "older_head"])
def test_tampering_under_a_signing_key_is_refused_with_no_write(emulator: EmulatorProcess, tmp_path: Path,
                                                                tamper: str) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK)
    assert cli(emulator, "apply", str(path), "--auto-approve", env=APPLY_ENV).code == 0
    first, _ = records(emulator)
    path.write_text(STACK.replace("second", "second-edited"))
    assert cli(emulator, "apply", str(path), "--auto-approve", env=APPLY_ENV).code == 0
    assert cli(emulator, "plan", str(path), "--detailed-exitcode", env=PLAN_ENV).code == 0
    change: Callable[[EmulatorProcess], None] = {
        "add_entry": add_entry, "add_entry_redigested": add_entry_redigested, "swap_ids": swap_ids,
        "older_head": lambda s: older_head(s, first)}[tamper]
    change(emulator)
    before, head = resources(emulator), records_or_none(emulator)
    plan = cli(emulator, "plan", str(path), env=PLAN_ENV)
    assert plan.code == 1 and "stack 'signed'" in plan.err and "index" in plan.err, plan.out + plan.err
    applied = cli(emulator, "apply", str(path), "--auto-approve", "--allow-delete", env=APPLY_ENV)
    assert applied.code == 1 and "index" in applied.err, applied.out + applied.err
    assert resources(emulator) == before and records_or_none(emulator) == head  # 0 writes


def records_or_none(server: EmulatorProcess) -> Any:
    try:
        head, shards = records(server)
    except (KeyError, ValueError):
        return None
    return head["metadata"], [s["metadata"] for s in shards]


def test_without_a_key_a_forged_entry_never_causes_a_delete(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK)
    assert cli(emulator, "apply", str(path), "--auto-approve").code == 0
    older = [o for o in emulator.objects(status="active") if o["id"].startswith("pde_")
             and "metorial-apply/stack" not in (o.get("metadata") or {})]
    foreign = [o["id"] for o in older[:2]]  # the emulator's own deployments: made before ours
    head, [shard] = records(emulator)
    entries = {k: v for k, v in shard["metadata"].items() if k.startswith(ENTRY_PREFIX)}
    entries[ENTRY_PREFIX + foreign[0]] = json.dumps({"address": "deployment.d0", "spec-hash": "sha256:0"})
    entries[ENTRY_PREFIX + foreign[1]] = json.dumps({"address": "deployment.gone", "spec-hash": "sha256:0"})
    forge_consistently(emulator, head, shard, entries)
    plan = cli(emulator, "plan", str(path), "--json")
    assert plan.code == 0, plan.err
    touched = {c.get("id") for c in json.loads(plan.out)["changes"] if c["action"] != "noop"}
    assert not touched & set(foreign)
    assert cli(emulator, "apply", str(path), "--auto-approve", "--allow-delete").code == 0
    live = {o["id"]: o for o in emulator.objects()}
    assert all(live[i]["status"] == "active" and "metorial-apply/stack" not in live[i]["metadata"] for i in foreign)


def forge_consistently(server: EmulatorProcess, head: dict[str, Any], shard: dict[str, Any],
                       entries: dict[str, str]) -> None:
    """Rewrite a shard and its head with digests that match, as anyone without the key can."""
    digest = digest_of(entries)
    patch(server, shard["id"], entries | {SHARD_KEY: "signed", DIGEST_KEY: digest})
    meta = head["metadata"]
    index = Index(stack="signed", generation=int(meta[GENERATION_KEY]), written=meta[WRITTEN_KEY])
    patch(server, head["id"], head_metadata(index, [ShardRef(id=shard["id"], digest=digest, first="")]))
