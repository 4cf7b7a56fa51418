"""The stack index decides ownership in the live read (issue 20, items 1 and 3): an object it lists
is ours by id whatever its metadata says now, with the index's facts (protect, sensitive,
fingerprint); a stamp copied onto an object it does not list is a look-alike; without a signing
key an unstamped entry is left alone unless declared. Pure: live_state over listed objects,
then build_plan (the records are built with the writer's pure parts, tests/index_records.py)."""

from __future__ import annotations

from typing import Any

import pytest

from metorial_apply.api.live import live_state
from metorial_apply.core.fingerprint import stamp_for
from metorial_apply.core.index import Index, IndexEntry, ShardsMissingError
from metorial_apply.core.model import Catalog, Resource, Stamp
from metorial_apply.core.state import State
from metorial_apply.planning.plan import Action, build_plan
from tests.index_records import index_records as records_of
from tests.plan.factory import CANARY, SALT, desired

STACK = "prod"
DEP = desired("deployment", "gh", {"provider": "github", "description": "tools", "metadata": {"team": "a"}},
              protect=True)
CFG = desired("config", "cfg", {"deployment": "gh", "provider": "github", "value": {"token": "old"}})


def stamp_of(resource: Resource) -> Stamp:
    return stamp_for(resource, STACK, SALT if resource.secret is not None else None)


def api_object(resource: Resource, id: str, metadata: dict[str, Any], created: str = "2026-06-01T00:00:00Z"
               ) -> dict[str, Any]:
    spec = resource.spec
    obj = {"id": id, "status": "active", "name": spec["name"], "description": spec.get("description"),
           "metadata": metadata, "provider_id": "github", "tool_filter": None, "created_at": created}
    if resource.address.kind == "deployment":
        return obj | {"object": "provider.deployment", "locked_version": None}
    return obj | {"object": "provider.config", "deployment": {"id": "pde_1"}, "from_vault": None}


def index_records(*entries: IndexEntry) -> list[dict[str, Any]]:
    return records_of(Index(stack=STACK, generation=1, entries=tuple(sorted(entries, key=lambda e: e.id))))


def listed(dep_metadata: dict[str, Any], *extra_deps: dict[str, Any], cfg_metadata: dict[str, Any] | None = None,
           ) -> dict[str, list[dict[str, Any]]]:
    records = index_records(IndexEntry(id="pde_1", stamp=stamp_of(DEP)), IndexEntry(id="pcf_1", stamp=stamp_of(CFG)))
    cfg = cfg_metadata if cfg_metadata is not None else stamp_of(CFG).to_metadata()
    return {"deployment": [api_object(DEP, "pde_1", dep_metadata), *extra_deps],
            "config": [api_object(CFG, "pcf_1", cfg)], "session_template": records}


def plan_for(want: list[Resource], found: dict[str, list[dict[str, Any]]]):  # type: ignore[no-untyped-def]
    read = live_state(STACK, Catalog(), found, declared=frozenset(str(r.address) for r in want))
    return read, build_plan(State.of(STACK, want), read.state)


def test_an_indexed_object_whose_stamp_was_edited_away_is_restored_by_one_update() -> None:
    read, plan = plan_for([DEP, CFG], listed({"team": "a", "note": "edited"}))
    assert [(str(r.address), r.id) for r in read.state] == [("deployment.gh", "pde_1"), ("config.cfg", "pcf_1")]
    assert read.objects == 2  # the index's own records are never objects or resources
    [change] = plan.actionable()
    assert (str(change.address), change.action, change.id) == ("deployment.gh", Action.UPDATE, "pde_1")
    assert change.reason.startswith("ownership stamp removed outside metorial-apply (will be restored)")


def test_protect_and_sensitive_come_from_the_index_not_from_what_the_stamp_says_now() -> None:
    wiped = {k: v for k, v in stamp_of(DEP).to_metadata().items() if not k.endswith(("protect", "sensitive"))}
    _, plan = plan_for([CFG], listed({"team": "a"} | wiped))
    gone = next(c for c in plan.changes if str(c.address) == "deployment.gh")
    assert gone.action is Action.DELETE and gone.protect  # apply refuses: protect survives a wiped stamp


def test_a_changed_secret_plans_what_a_changed_secret_plans_even_with_the_stamp_wiped() -> None:
    new = desired("config", "cfg", {"deployment": "gh", "provider": "github", "value": {"token": CANARY}})
    _, plan = plan_for([DEP, new], listed(stamp_of(DEP).to_metadata() | {"team": "a"}, cfg_metadata={}))
    [change] = plan.actionable()
    assert (str(change.address), change.action) == ("config.cfg", Action.REPLACE)
    assert "value changed (secret)" in change.reason and CANARY not in str(change.model_dump())


@pytest.mark.parametrize("created", ["2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z"])
def test_a_stamp_copied_onto_another_object_is_a_look_alike_left_alone(created: str) -> None:
    copy = api_object(DEP, "pde_foreign", stamp_of(DEP).to_metadata() | {"team": "a"}, created)
    read, plan = plan_for([DEP, CFG], listed(stamp_of(DEP).to_metadata() | {"team": "a"}, copy))
    assert [r.id for r in read.state] == ["pde_1", "pcf_1"]
    assert not plan.actionable()  # the managed one is kept, nothing deleted, nothing repointed
    assert any("pde_foreign" in line and "look-alike" in line for line in read.ignored)


def test_a_head_naming_a_missing_shard_asks_for_a_fresh_list() -> None:
    found = listed(stamp_of(DEP).to_metadata() | {"team": "a"})
    found["session_template"] = found["session_template"][:1]
    with pytest.raises(ShardsMissingError):
        live_state(STACK, Catalog(), found)


def test_without_a_signing_key_an_unstamped_entry_is_never_deleted() -> None:
    """An unsigned index could be anyone's: an entry whose object lacks our stamp is restored only
    when declared, and never deleted."""
    read, plan = plan_for([CFG], listed({"team": "a"}))
    assert [r.id for r in read.state] == ["pcf_1"]
    assert not [c for c in plan.changes if c.id == "pde_1" or str(c.address) == "deployment.gh"]
    assert any("pde_1" in line and "not stamped" in line for line in read.ignored)


def test_stamps_with_a_run_and_no_index_are_refused_with_the_rebuild_advice() -> None:
    from metorial_apply.core.index import StackIndexError

    found = {"deployment": [api_object(DEP, "pde_1", stamp_of(DEP).model_copy(update={"run": "r1"}).to_metadata())]}
    with pytest.raises(StackIndexError, match="index rebuild --stack prod"):
        live_state(STACK, Catalog(), found)
    legacy = live_state(STACK, Catalog(), {"deployment": [api_object(DEP, "pde_1", stamp_of(DEP).to_metadata())]})
    assert [r.id for r in legacy.state] == ["pde_1"] and legacy.index is None
