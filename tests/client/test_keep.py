"""What the live read keeps of each listed object (api/keep.py): objects not ours are cut to what
the read needs as their page arrives, and the read's outcome is the same as from the whole
objects. One listing with every case at once (ours, a stamp wiped in the dashboard, look-alikes,
another stack's, archived, an import, an auth config bound to ours, lock and index records),
read both ways."""

from __future__ import annotations

from typing import Any

import pytest

from metorial_apply.api.keep import Keeper, Slim, slim, whole_indexed
from metorial_apply.api.live import LiveRead, live_state
from metorial_apply.core.directives import Directives, Import
from metorial_apply.core.fingerprint import stamp_for
from metorial_apply.core.index import Index, IndexEntry
from metorial_apply.core.kinds import KINDS
from metorial_apply.core.lock import lock_metadata
from metorial_apply.core.model import Address, Catalog, Resource
from tests.index_records import index_records
from tests.plan.factory import SALT, desired

pytestmark = pytest.mark.anyio
STACK = "prod"
GH = desired("deployment", "gh", {"provider": "github", "metadata": {"team": "a"}})
WIPED = desired("deployment", "wiped", {"provider": "github"})
APP = desired("auth_credentials", "app", {"provider": "github", "client_id": "Iv1.x", "client_secret": "s",
                                          "scopes": ["repo"]})
IMPORTS = Directives(imports=(Import(to=Address(kind="deployment", name="imported"), id="pde_import"),))
NAMES = frozenset({("deployment", "gh"), ("deployment", "wiped"), ("deployment", "twin"), ("deployment", "imported")})


def stamped(resource: Resource, stack: str = STACK) -> dict[str, str]:
    return stamp_for(resource, stack, SALT if resource.secret is not None else None).to_metadata()


def deployment(id: str, name: str, metadata: dict[str, Any], status: str = "active") -> dict[str, Any]:
    return {"object": "provider.deployment", "id": id, "status": status, "name": name, "description": "tools",
            "metadata": metadata, "is_default": False, "provider_id": "github", "tool_filter": None,
            "locked_version": None, "default_config": None, "created_at": "2026-06-01T00:00:00Z"}


def listing() -> dict[str, list[dict[str, Any]]]:
    index = Index(stack=STACK, generation=1, entries=(
        IndexEntry(id="pcr_1", stamp=stamp_for(APP, STACK, SALT)),
        IndexEntry(id="pde_1", stamp=stamp_for(GH, STACK, None)),
        IndexEntry(id="pde_wiped", stamp=stamp_for(WIPED, STACK, None))))
    locks = [{"id": f"set_lock_{s}", "status": "active", "created_at": "2026-06-01T00:00:00Z",
              "metadata": lock_metadata(s, f"run-{s}", "ci", 7, 300, 0)} for s in (STACK, "staging")]
    credentials = {"object": "provider.auth_credentials", "id": "pcr_1", "status": "active", "name": "app",
                   "type": "oauth", "provider_id": "github", "metadata": stamped(APP), "scopes": ["repo"]}
    bound = {"object": "provider.auth_config", "id": "pac_hand", "status": "active", "name": "by hand",
             "is_default": True, "deployment": {"id": "pde_1", "name": "gh"}, "credentials": {"id": "pcr_1"},
             "metadata": {}, "type": "oauth", "source": "manual"}
    return {
        "deployment": [deployment("pde_1", "gh", {"team": "a"} | stamped(GH)),
                       deployment("pde_wiped", "wiped", {"edited": "in the dashboard"}),
                       deployment("pde_twin", "twin", {}), deployment("pde_other", "other", {"x": "y" * 500}),
                       deployment("pde_staging", "twin", stamped(GH, "staging")),
                       deployment("pde_old", "twin", {}, status="archived"),
                       deployment("pde_import", "hand made", {"team": "b"}), {"id": ["not", "an", "id"]}],
        "auth_credentials": [credentials], "auth_config": [bound],
        "session_template": [*index_records(index), *locks],
    }


class Lister:
    """What whole_indexed asks of a client: one object by id (from the whole listing)."""

    def __init__(self, listed: dict[str, list[dict[str, Any]]]) -> None:
        self.objects = {(kind, o["id"]): o for kind, objs in listed.items() for o in objs if isinstance(o["id"], str)}
        self.gets: list[str] = []

    async def get(self, path: str, id: str, *, kind: str) -> dict[str, Any]:
        assert path == KINDS[kind].path
        self.gets.append(id)
        return self.objects[(kind, id)]


async def read_both(declared: frozenset[str]) -> tuple[LiveRead, LiveRead, Lister]:
    whole = listing()
    full = live_state(STACK, Catalog(), whole, IMPORTS, None, declared)
    keeper, lister = Keeper(STACK, frozenset({"pde_import"}), NAMES), Lister(whole)
    kept = {kind: keeper.page(kind, objects) for kind, objects in listing().items()}
    kept = await whole_indexed(lister, kept, STACK, None, declared)  # type: ignore[arg-type]  # a fake client
    return full, live_state(STACK, Catalog(), kept, IMPORTS, None, declared), lister


@pytest.mark.parametrize("declared", [frozenset({"deployment.gh", "deployment.wiped"}), frozenset()],
                         ids=["wiped-declared", "wiped-undeclared"])
async def test_the_read_from_what_is_kept_is_the_read_from_whole_objects(declared: frozenset[str]) -> None:
    full, kept, lister = await read_both(declared)
    assert kept.state == full.state
    assert (kept.ignored, kept.objects, kept.defaults, kept.index, kept.strays, kept.kept) == \
        (full.ignored, full.objects, full.defaults, full.index, full.strays, full.kept)
    # Look-alike notes can name only the configuration's names: those, and only those, are kept.
    assert kept.unmanaged() == {k: v for k, v in full.unmanaged().items() if k in NAMES}
    assert kept.unmanaged()[("deployment", "twin")] == ("pde_twin",) and ("deployment", "other") in full.unmanaged()
    assert set(kept.others) == set(full.others)
    # Only an object the index gives us (the address declared: the index is not signed) is fetched whole.
    assert lister.gets == (["pde_wiped"] if declared else [])
    assert ("deployment.wiped" in {str(r.address) for r in kept.state}) == bool(declared)
    assert kept.state.bound == {"pcr_1": ("pac_hand",)} and kept.defaults.auth_config == {"gh"}
    assert {str(r.address) for r in kept.state} >= {"deployment.gh", "deployment.imported", "auth_credentials.app"}


async def test_objects_not_ours_keep_only_what_the_read_needs() -> None:
    listed = listing()
    kept = {kind: Keeper(STACK, frozenset({"pde_import"}), NAMES).page(kind, objs) for kind, objs in listed.items()}
    whole = [o for objects in kept.values() for o in objects if not isinstance(o, Slim)]
    assert {o["id"] for o in whole} == {"pde_1", "pcr_1", "pde_import", "set_head", "set_s1x0", "set_lock_prod",
                                         "set_lock_staging"}
    by_id = {str(o.get("id")): o for o in kept["deployment"] + kept["auth_config"]}
    assert by_id["pde_other"] == {"id": "pde_other"}  # not a name the configuration has: nothing but its id
    assert by_id["pde_twin"] == {"id": "pde_twin", "name": "twin"}
    assert by_id["pde_old"] == {"id": "pde_old", "status": "archived", "name": "twin"}
    assert set(by_id["pde_staging"]["metadata"]) == {"metorial-apply/stack", "metorial-apply/address",
                                                      "metorial-apply/spec-hash"}
    assert by_id["pac_hand"] == {"id": "pac_hand", "is_default": True, "deployment": {"id": "pde_1"},
                                 "credentials": {"id": "pcr_1"}}


def test_without_names_every_name_is_kept() -> None:
    assert slim("deployment", deployment("pde_9", "x", {}), None) == {"id": "pde_9", "name": "x"}


def test_a_template_not_ours_keeps_its_active_providers_auth_config_links_within_the_budget() -> None:
    providers = [{"id": "stp_1", "status": "active", "auth_config": {"object": "x", "id": "pac_1"}, "config": {}},
                 {"id": "stp_2", "status": "archived", "auth_config": {"id": "pac_2"}},
                 {"id": "stp_3", "auth_config": None}, "hostile", {"auth_config": {"id": "pac_4"}}]
    template = {"id": "set_1", "name": "theirs", "providers": providers}
    keeper = Keeper(STACK, frozenset(), frozenset())
    keeper.links.left = 1
    first, second = keeper.page("session_template", [template, template])
    assert first == {"id": "set_1", "providers": [{"auth_config": {"id": "pac_1"}}]}
    assert second == {"id": "set_1", "providers": []}  # the read's budget is spent
