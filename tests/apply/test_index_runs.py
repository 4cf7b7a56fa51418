"""Runs recorded in the stack index (issue 20, item 2): a run killed after a batch of creates and
before its merge loses nothing (the rerun claims exactly what it made, merges, and converges with
no duplicate), while a stamp copied meanwhile onto an object made before the run began stays
foreign. Driven through the real CLI, in subprocesses, against an emulator process."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from metorial_apply.core.index import read_index
from metorial_apply.core.runs import SKEW_S
from tests.apply.conftest import run_cli
from tests.apply.test_faults import big_stack
from tests.apply.test_lock import GROUPS, assert_applied_once, env_for, locks, server, start, wait_until
from tests.emulator_server import SECRET_KEY, EmulatorProcess

__all__ = ["server"]  # the fixture
HEADERS = {"Authorization": f"Bearer {SECRET_KEY}"}
STACK = "killed-index"


def index_of(server: EmulatorProcess, stack: str) -> Any:
    return read_index(stack, server.objects(status="active"))  # heads and shards are found by their metadata


def foreign_deployment(server: EmulatorProcess) -> str:
    made = httpx.post(f"{server.url}/provider-deployments", headers=HEADERS, timeout=10,
                      json={"provider_id": "github", "name": "d0", "metadata": {"team": "elsewhere"}})
    made.raise_for_status()
    return str(made.json()["id"])


def copy_stamp(server: EmulatorProcess, source: dict[str, Any], target: str) -> None:
    httpx.patch(f"{server.url}/provider-deployments/{target}", headers=HEADERS, timeout=10,
                json={"metadata": dict(source["metadata"])}).raise_for_status()


def test_a_killed_runs_objects_are_claimed_by_the_rerun_and_a_copy_onto_an_older_object_is_not(
        tmp_path: Path, server: EmulatorProcess) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack(GROUPS, stack=STACK))
    older = foreign_deployment(server)
    time.sleep(SKEW_S + 1)  # made well before the run's T0, even allowing for server clocks
    victim = start(server, "apply", str(path), "--auto-approve", "--parallelism", "2", "--lock-ttl", "6")
    wait_until(lambda: len(server.objects(STACK, status="active")) >= 8, "the first run to be applying")
    victim.kill()
    victim.wait(timeout=10)
    made = server.objects(STACK, status="active")
    [opened] = index_of(server, STACK).open  # the killed run's entry: never merged
    assert all(o["metadata"]["metorial-apply/run"] == opened.run for o in made)
    deployment = next(o for o in made if o["metadata"]["metorial-apply/address"].startswith("deployment."))
    copy_stamp(server, deployment, older)  # during the window, onto an object made before it
    after = run_cli(["apply", str(path), "--auto-approve", "--lock-timeout", "30"], env=env_for(server))
    assert after.code == 0, after.out[-2000:] + after.err
    assert after.err.count(older) == 1 and "left alone" in after.err  # reported once, as foreign
    claimed = {o["id"] for o in made}
    index = index_of(server, STACK)
    assert index.open == () and claimed <= set(index.by_id()) and older not in index.by_id()
    objects = {o["id"]: o for o in server.objects(status="active")}
    assert objects[older]["status"] == "active"  # never adopted, never deleted
    assert_applied_once_but(server, STACK, older)
    assert locks(server) == []  # the killed run's record was kept for its window, then archived


def assert_applied_once_but(server: EmulatorProcess, stack: str, foreign: str) -> None:
    """Every address applied exactly once by the stack's own objects; the foreign copy set aside."""

    class Without:
        def objects(self, stack: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
            return [o for o in server.objects(stack, status) if o["id"] != foreign]

    assert_applied_once(Without(), stack)  # type: ignore[arg-type]


def test_a_clean_run_leaves_no_open_entry_and_the_next_apply_writes_no_index(
        tmp_path: Path, server: EmulatorProcess) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack(2, stack="clean"))
    assert run_cli(["apply", str(path), "--auto-approve"], env=env_for(server)).code == 0
    index = index_of(server, "clean")
    assert index.open == () and index.generation == 1 and len(index.entries) == 8
    assert all("metorial-apply/run" in o["metadata"] for o in server.objects("clean", status="active"))
    server.admin("POST", "/reset", json={"stats_only": True})
    again = run_cli(["apply", str(path), "--auto-approve"], env=env_for(server))
    assert again.code == 0 and again.out.count("No changes.") == 1, again.out  # said once, by the plan
    calls = server.stats()["calls"]
    assert not [k for k in calls if not k.startswith("GET ") and "session-templates" not in k]
    assert index_of(server, "clean").generation == 1  # nothing to record: no write


def test_an_apply_of_updates_only_writes_the_changed_shard_and_the_head_once(
        tmp_path: Path, server: EmulatorProcess) -> None:
    """Updates act on what the index lists already: no open entry, so one head PATCH in all."""
    path, journal = tmp_path / "stack.yaml", tmp_path / "j.jsonl"
    path.write_text(big_stack(2, stack="updates"))
    assert run_cli(["apply", str(path), "--auto-approve"], env=env_for(server)).code == 0
    path.write_text(big_stack(2, stack="updates").replace("tools: [create_issue]", "tools: [create_issue, get_issue]"))
    done = run_cli(["apply", str(path), "--auto-approve", "--journal", str(journal)], env=env_for(server))
    assert done.code == 0, done.out + done.err
    entries = [e for e in map(json.loads, journal.read_text().splitlines()) if e["event"] == "call"]
    index = [e["method"] for e in entries if e["kind"] == "index"]
    writes = [i for i, e in enumerate(entries) if e["address"] and e["method"] != "GET"]
    first = next(i for i, e in enumerate(entries) if e["kind"] == "index")
    assert index == ["POST", "PATCH", "DELETE"] and first > writes[-1], index  # shard, head, old shard
    assert index_of(server, "updates").generation == 2
