"""build_plan with `replace` (--replace ADDRESS) and resources with `ignore: [field, …]`."""

from __future__ import annotations

from typing import Any

import pytest

from metorial_apply.core.errors import PlanError, SafetyError
from metorial_apply.core.fingerprint import FingerprintKey, stamp_for
from metorial_apply.core.model import Address, Resource, SecretValue, Stamp
from metorial_apply.planning.plan import Action, Change, Plan, build_plan
from metorial_apply.planning.safety import check_protected
from metorial_apply.planning.saved import desired_digest
from tests.plan.factory import CANARY, SALT, STACK, basic, desired, live, state

A = Address.parse


def plan_of(want: list[Resource], have: list[Resource], **kw: Any) -> Plan:
    return build_plan(state(*want), state(*have), **kw)


def by_address(plan: Plan) -> dict[str, Change]:
    return {str(c.address): c for c in plan.changes}


def ignoring(r: Resource, *fields: str) -> Resource:
    return r.model_copy(update={"ignore": frozenset(fields)})


# -- --replace ------------------------------------------------------------------------------


def test_replace_of_an_unchanged_resource_is_a_create_first_replace_with_the_usual_cascade() -> None:
    rs = basic()
    plan = plan_of(rs, [live(r) for r in rs], replace=["deployment.github"])
    changes = by_address(plan)
    dep = changes["deployment.github"]
    assert dep.action is Action.REPLACE and dep.replace_mode == "create_first"
    assert dep.reason.startswith("replace requested (--replace)")
    assert dep.reason.endswith("delete old")  # ", create new, repoint N dependents, delete old"
    # deployment is create-only for configs and auth configs: they are replaced too
    assert changes["config.github-prod"].action is Action.REPLACE
    assert changes["config.github-prod"].reason.startswith("deployment.github is replaced")
    assert changes["auth_config.github-oauth"].action is Action.REPLACE
    # the template's providers are repointed in place
    template = changes["session_template.support"]
    assert template.action is Action.UPDATE and template.children
    assert A("session_template.support") in dep.delete_after
    assert plan.destructive


def test_without_replace_the_same_state_plans_nothing() -> None:
    rs = basic()
    assert plan_of(rs, [live(r) for r in rs]).actionable() == ()


def test_replace_of_a_leaf_touches_nothing_else() -> None:
    rs = basic()
    plan = plan_of(rs, [live(r) for r in rs], replace=[A("config.github-prod")])
    assert [(c.action, str(c.address)) for c in plan.actionable()] == [
        (Action.REPLACE, "config.github-prod"), (Action.UPDATE, "session_template.support")]
    assert by_address(plan)["config.github-prod"].reason == (
        "replace requested (--replace): create new, repoint 1 dependent, delete old")


def test_replace_keeps_a_natural_reason_after_the_request() -> None:
    d = desired("deployment", "github", {"provider": "github"})
    old = live(desired("deployment", "github", {"provider": "slack"}))
    change = by_address(plan_of([d], [old], replace=["deployment.github"]))["deployment.github"]
    assert change.reason == "replace requested (--replace); provider is create-only"


def test_replace_needs_no_comparable_fingerprint() -> None:
    key = FingerprintKey.parse("canary-fingerprint-key-0123456789abcdef")
    cfg = desired("config", "x", {"deployment": "d", "value": {"token": CANARY}})
    keyed = live(cfg).model_copy(update={"stamp": stamp_for(cfg, STACK, SALT, key)})
    with pytest.raises(PlanError, match="apply --replace ADDRESS"):
        plan_of([cfg], [keyed])  # the key is lost: the fingerprint cannot be compared
    change = by_address(plan_of([cfg], [keyed], replace=["config.x"]))["config.x"]
    assert change.action is Action.REPLACE and change.desired is not None
    assert change.desired.secret == SecretValue({"token": CANARY})  # the new object gets the value


def test_replace_of_an_unknown_address_is_an_error_like_target() -> None:
    rs = basic()
    with pytest.raises(PlanError, match=r"--replace names no resource in config or live state: deployment\.nope"):
        plan_of(rs, [live(r) for r in rs], replace=["deployment.nope"])


def test_replace_of_an_address_only_live_is_an_error() -> None:
    rs = basic()
    with pytest.raises(PlanError, match=r"--replace session_template\.support: not in the configuration"):
        plan_of(rs[:3], [live(r) for r in rs], replace=["session_template.support"])


def test_replace_of_an_address_only_in_config_is_a_create_that_says_so() -> None:
    rs = basic()
    plan = plan_of(rs, [live(r) for r in rs[:3]], replace=["session_template.support"])
    change = by_address(plan)["session_template.support"]
    assert change.action is Action.CREATE and "--replace: nothing to replace yet" in change.reason
    assert not plan.destructive


def test_replace_of_a_protected_resource_is_refused_like_any_replace() -> None:
    d = desired("deployment", "github", {"provider": "github"}, protect=True)
    plan = plan_of([d], [live(d)], replace=["deployment.github"])
    assert plan.changes[0].action is Action.REPLACE and plan.changes[0].protect
    with pytest.raises(SafetyError, match=r"refusing to replace protected resource: deployment\.github"):
        check_protected(plan)


def test_replace_outside_the_target_plan_is_an_error() -> None:
    rs = basic()
    have = [live(r) for r in rs]
    with pytest.raises(PlanError, match="outside the --target plan"):
        plan_of(rs, have, replace=["session_template.support"], targets=["deployment.github"])
    plan = plan_of(rs, have, replace=["config.github-prod"], targets=["config.github-prod"])
    assert by_address(plan)["config.github-prod"].action is Action.REPLACE


# -- ignore -----------------------------------------------------------------------------------


def dep(description: str = "YAML text", **more: Any) -> Resource:
    return desired("deployment", "github", {"provider": "github", "description": description,
                                             "metadata": {"team": "yaml"}} | more)


def edited(r: Resource, **spec: Any) -> Resource:
    """`r` applied by us, then edited in the dashboard (the stamp stays the applied one)."""
    return live(r, spec=r.spec | spec)


def test_an_ignored_field_edited_in_the_dashboard_plans_nothing_and_is_noted_once() -> None:
    d = ignoring(dep(), "description", "metadata")
    plan = plan_of([d], [edited(d, description="dashboard", metadata={"team": "dash"})])
    assert plan.actionable() == ()
    assert [(str(n.address), n.text) for n in plan.notes] == [("deployment.github", "ignored: description, metadata")]


def test_an_ignored_field_changed_in_yaml_plans_nothing() -> None:
    applied = ignoring(dep("old"), "description")
    assert plan_of([ignoring(dep("new"), "description")], [live(applied)]).actionable() == ()


def test_a_field_not_ignored_still_plans_an_update_of_that_field_only_and_reads_as_drift() -> None:
    d = ignoring(dep(), "description")
    plan = plan_of([d], [edited(d, description="dashboard", name="renamed")])
    change = plan.changes[0]
    assert change.action is Action.UPDATE and change.fields == ("name",)
    assert [f.field for f in change.diffs] == ["name"]
    assert change.drift and change.reason == "changed outside metorial-apply"


def test_the_spec_hash_leaves_ignored_fields_out() -> None:
    d = ignoring(dep(), "description")
    stamp = stamp_for(d, STACK, None)
    assert stamp.ignore == ("description",)
    assert stamp.to_metadata()["metorial-apply/ignore"] == "description"
    assert Stamp.split(stamp.to_metadata())[1] == stamp  # read back from live metadata as written
    assert stamp_for(ignoring(dep("other"), "description"), STACK, None).spec_hash == stamp.spec_hash
    assert stamp_for(dep(), STACK, None).ignore is None  # no key at all without ignore
    assert "metorial-apply/ignore" not in stamp_for(dep(), STACK, None).to_metadata()


def test_ignore_listed_after_the_last_apply_is_no_change_and_no_false_drift() -> None:
    applied = dep()  # stamped without ignore
    d = ignoring(dep(), "description")
    plan = plan_of([d], [edited(applied, description="dashboard", name="renamed")])
    assert plan.changes[0].fields == ("name",)  # the dashboard's description is not restored
    assert plan_of([d], [live(applied)]).actionable() == ()


def test_tools_are_ignored_by_their_yaml_name() -> None:
    d = ignoring(dep(tools=["a"]), "tool_filters")
    plan = plan_of([d], [edited(d, tool_filters=[{"type": "tool_keys", "keys": ["b"]}])])
    assert plan.actionable() == () and plan.notes[0].text == "ignored: tools"


def test_an_ignored_secret_value_is_not_compared() -> None:
    applied = desired("config", "x", {"deployment": "d", "value": {"token": "old"}})
    changed = desired("config", "x", {"deployment": "d", "value": {"token": CANARY}})
    assert plan_of([changed], [live(applied)]).changes[0].action is Action.REPLACE
    assert plan_of([ignoring(changed, "value")], [live(applied)]).actionable() == ()


def test_ignored_template_providers_are_left_to_the_dashboard() -> None:
    t = desired("session_template", "t", {"providers": [{"deployment": "a"}]})
    dashboard = [{"deployment": "b", "config": None, "auth_config": None, "tool_filters": []}]
    assert plan_of([t], [edited(t, providers=dashboard)]).changes[0].action is Action.UPDATE
    assert plan_of([ignoring(t, "providers")], [edited(t, providers=dashboard)]).actionable() == ()


def test_a_resource_with_ignore_is_still_created_with_every_field() -> None:
    d = ignoring(dep(), "description")
    change = plan_of([d], []).changes[0]
    assert change.action is Action.CREATE and change.after is not None
    assert change.after["description"] == "YAML text" and change.desired == d


def test_ignore_is_part_of_the_desired_digest_and_leaves_other_digests_alone() -> None:
    plain, other = dep(), desired("deployment", "other", {"provider": "github"})
    assert desired_digest(state(plain, other)) != desired_digest(state(ignoring(plain, "description"), other))
    # the digest main computed for this state before `ignore:` existed: saved plans stay valid
    assert desired_digest(state(plain, other)) == (
        "scrypt:16384:8:1:b430e27cf33f0e160fed4f22f8e5a688:811a2af82ffd72501b4c8596a3921566")
