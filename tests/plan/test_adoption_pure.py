"""The pure side of imports and moves: `live_state` puts adopted objects at their new address
before names are resolved (so references read as the new name), keeps every object it does not
claim by id, and `build_plan` turns adoptions into import/takeover/move changes. No network."""

from __future__ import annotations

from typing import Any

import pytest

from metorial_apply.api.live import live_state
from metorial_apply.core.directives import Directives, Import, Move, Where
from metorial_apply.core.errors import ConfigError
from metorial_apply.core.model import Address, Catalog, Resource, Stamp
from metorial_apply.core.state import State
from metorial_apply.planning.plan import Action, build_plan


def obj(id: str, name: str, *, stack: str | None = None, address: str | None = None,
        deployment: str | None = None) -> dict[str, Any]:
    meta = Stamp(stack=stack, address=address, spec_hash="sha256:x").to_metadata() if stack and address else {}
    out = {"id": id, "name": name, "provider_id": "github", "status": "active", "metadata": meta | {"team": "t"}}
    return out | ({"deployment": {"id": deployment}} if deployment else {})


def addr(text: str) -> Address:
    return Address.parse(text)


def test_a_move_rewrites_the_address_and_every_reference_to_it() -> None:
    listed = {"deployment": [obj("pde_1", "gh", stack="s", address="deployment.gh")],
              "config": [obj("pcf_1", "cfg", stack="s", address="config.cfg", deployment="pde_1")]}
    moves = Directives(moves=(Move(source=addr("deployment.gh"), to=addr("deployment.github")),))
    read = live_state("s", Catalog(), listed, moves)
    live = read.state.by_address()
    assert live[addr("deployment.github")].id == "pde_1"
    assert live[addr("deployment.github")].adoption.action == "move"  # type: ignore[union-attr]
    assert live[addr("config.cfg")].spec["deployment"] == "github"  # not "gh": the config is unchanged
    assert addr("deployment.gh") not in live


def test_unclaimed_objects_are_kept_by_id_and_imports_adopt_them() -> None:
    listed = {"deployment": [obj("pde_1", "github"), obj("pde_2", "linear", stack="other", address="deployment.x"),
                             obj("pde_3", "github")]}
    read = live_state("s", Catalog(), listed)
    assert len(read.state) == 0 and set(read.others) == {"pde_1", "pde_2", "pde_3"}
    assert read.unmanaged() == {("deployment", "github"): ("pde_1", "pde_3")}  # another stack's is not "unmanaged"
    imports = Directives(imports=(Import(to=addr("deployment.github"), id="pde_1"),
                                  Import(to=addr("deployment.linear"), id="pde_2")))
    read = live_state("s", Catalog(), listed, imports)
    live = read.state.by_address()
    assert live[addr("deployment.github")].adoption.action == "import"  # type: ignore[union-attr]
    assert live[addr("deployment.linear")].adoption.other == "other"  # type: ignore[union-attr]
    assert set(read.others) == {"pde_3"}  # adopted ones are no longer look-alikes


def test_import_problems_are_positioned_at_the_entry() -> None:
    where = Where(file="s.yaml", line=7, path="imports[0]")
    bad = Directives(imports=(Import(to=addr("config.c"), id="pde_1", where=where),))
    with pytest.raises(ConfigError) as info:
        live_state("s", Catalog(), {"deployment": [obj("pde_1", "github")]}, bad)
    [problem] = info.value.diagnostics
    assert (problem.file, problem.line, problem.path) == ("s.yaml", 7, "imports[0]")
    assert problem.message == "pde_1 is a deployment, not a config"


def desired(*imports: Import) -> State:
    spec = {"name": "linear", "description": None, "metadata": {"team": "t"}, "provider": "github",
            "tool_filters": [], "version": None}
    return State.of("s", [Resource(address=addr("deployment.linear"), spec=spec)], Directives(imports=imports))


def test_a_takeover_is_an_error_without_the_flag_and_a_takeover_with_it() -> None:
    imp = Import(to=addr("deployment.linear"), id="pde_2", where=Where(file="s.yaml", line=3, path="imports[0]"))
    listed = {"deployment": [obj("pde_2", "linear", stack="other", address="deployment.x")]}
    live = live_state("s", Catalog(), listed, Directives(imports=(imp,))).state
    with pytest.raises(ConfigError) as info:
        build_plan(desired(imp), live)
    assert "managed by stack 'other'" in str(info.value.diagnostics[0])
    [change] = build_plan(desired(imp), live, takeover=True).changes
    assert change.action is Action.TAKEOVER and change.id == "pde_2" and change.fields == ()
