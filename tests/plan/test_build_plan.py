"""build_plan: pairing by address, actions and reasons per kind, replace cascades, drift, secrets."""

from __future__ import annotations

from typing import Any

import pytest

from metorial_apply.core.errors import PlanError
from metorial_apply.core.model import Address, Resource
from metorial_apply.planning.plan import Action, Change, Plan, build_plan
from tests.plan.factory import CANARY, SALT, basic, desired, live, state

A = Address.parse


def plan_of(want: list[Resource], have: list[Resource], **kw: Any) -> Plan:
    return build_plan(state(*want), state(*have), **kw)


def by_address(plan: Plan) -> dict[str, Change]:
    return {str(c.address): c for c in plan.changes}


def test_empty_live_plans_every_resource_as_create_in_dependency_order() -> None:
    plan = plan_of(basic(), [])
    assert [(c.action, str(c.address)) for c in plan.changes] == [
        (Action.CREATE, "deployment.github"), (Action.CREATE, "config.github-prod"),
        (Action.CREATE, "auth_config.github-oauth"), (Action.CREATE, "session_template.support")]
    assert all(c.reason == "not in live state" for c in plan.changes)
    template = by_address(plan)["session_template.support"]
    assert template.depends_on == (A("deployment.github"), A("config.github-prod"), A("auth_config.github-oauth"))


def test_freshly_applied_state_plans_nothing() -> None:
    rs = basic()
    plan = plan_of(rs, [live(r) for r in rs])
    assert plan.actionable() == ()
    assert {c.action for c in plan.changes} == {Action.NOOP}


def test_stamped_resource_missing_from_config_is_deleted_dependents_first() -> None:
    rs = basic()
    plan = plan_of([rs[0]], [live(r) for r in rs])
    changes = by_address(plan)
    assert [str(c.address) for c in plan.actionable()] == [
        "session_template.support", "auth_config.github-oauth", "config.github-prod"]
    assert all(c.action is Action.DELETE and c.reason == "not in config" for c in plan.actionable())
    assert changes["config.github-prod"].depends_on == (A("session_template.support"),)
    assert changes["config.github-prod"].id == "id_config.github-prod"


@pytest.mark.parametrize(
    ("kind", "data", "edit", "field", "label"),
    [
        ("deployment", {"provider": "github"}, {"description": "new"}, "description", "description"),
        ("deployment", {"provider": "github"}, {"tools": ["a"]}, "tool_filters", "tools"),
        ("deployment", {"provider": "github"}, {"version": "2.0"}, "version", "version"),
        ("deployment", {"provider": "github"}, {"metadata": {"team": "x"}}, "metadata", "metadata"),
        ("deployment", {"provider": "github"}, {"name": "Shown"}, "name", "name"),
        ("config", {"deployment": "d", "value": {"a": 1}}, {"tools": [{"tool_regex": "^x"}]}, "tool_filters", "tools"),
        ("config_vault", {"deployment": "d", "value": {"a": 1}}, {"description": "v"}, "description", "description"),
        (
            "auth_config",
            {"deployment": "d", "method": "oauth", "value": {"a": 1}},
            {"description": "x"},
            "description",
            "description",
        ),
        ("auth_credentials", {"provider": "github", "client_id": "i", "client_secret": "s"}, {"name": "App"}, "name",
         "name"),
        ("session_template", {}, {"description": "t"}, "description", "description"),
    ],
)
def test_each_patchable_field_change_is_an_update_of_that_field_only(
        kind: str, data: dict[str, Any], edit: dict[str, Any], field: str, label: str) -> None:
    old = desired(kind, "x", data)
    new = desired(kind, "x", data | edit)
    (change,) = plan_of([new], [live(old)]).changes
    assert change.action is Action.UPDATE
    assert change.fields == (field,)
    assert [d.field for d in change.diffs] == [label]
    assert change.reason == f"{label} changed"
    assert not change.drift


@pytest.mark.parametrize(
    ("kind", "data", "edit", "label"),
    [
        ("deployment", {"provider": "github"}, {"provider": "slack"}, "provider"),
        ("config", {"deployment": "d", "value": {"a": 1}}, {"deployment": "e"}, "deployment"),
        ("config_vault", {"deployment": "d", "value": {"a": 1}}, {"provider": "slack"}, "provider"),
        ("auth_config", {"deployment": "d", "method": "oauth", "value": {"a": 1}}, {"method": "token"}, "method"),
        (
            "auth_credentials",
            {"provider": "github", "client_id": "i", "client_secret": "s"},
            {"provider": "slack"},
            "provider",
        ),
    ],
)
def test_each_create_only_field_change_is_a_replace(
    kind: str, data: dict[str, Any], edit: dict[str, Any], label: str
) -> None:
    (change,) = plan_of([desired(kind, "x", data | edit)], [live(desired(kind, "x", data))]).changes
    assert change.action is Action.REPLACE
    assert change.replace_mode == "create_first"
    assert change.reason == f"{label} is create-only"
    assert change.id == f"id_{kind}.x"


def test_rename_is_create_plus_delete() -> None:
    old = desired("deployment", "old", {"provider": "github"})
    plan = plan_of([desired("deployment", "new", {"provider": "github"})], [live(old)])
    assert [(c.action, str(c.address)) for c in plan.changes] == [
        (Action.CREATE, "deployment.new"), (Action.DELETE, "deployment.old")]


@pytest.mark.parametrize("kind,data", [
    ("config", {"deployment": "d"}), ("config_vault", {"deployment": "d"}),
    ("auth_config", {"deployment": "d", "method": "oauth"}),
])
def test_secret_change_replaces_and_is_redacted(kind: str, data: dict[str, Any]) -> None:
    old = desired(kind, "x", data | {"value": {"token": "old"}})
    new = desired(kind, "x", data | {"value": {"token": CANARY}})
    (change,) = plan_of([new], [live(old)]).changes
    assert change.action is Action.REPLACE
    assert change.reason == "value changed (secret)"
    (diff,) = change.diffs
    assert (diff.field, diff.before, diff.after, diff.secret) == ("value", "(secret)", "(secret)", True)
    assert change.after is not None and change.after["value"] == "(secret)"
    assert CANARY not in repr(change.model_dump(exclude={"desired", "live"}))


def test_unchanged_secret_shows_nothing() -> None:
    r = desired("config", "x", {"deployment": "d", "value": {"token": CANARY}})
    (change,) = plan_of([r], [live(r, salt="ab" * 16)]).changes
    assert change.action is Action.NOOP and change.diffs == ()


def test_a_credentials_client_or_scopes_change_is_a_replace() -> None:
    """The engine keeps an OAuth client on update (200, nothing changed): client_id, client_secret
    and scopes are create-only, so a change makes new credentials and deletes the old."""
    data = {"provider": "github", "client_id": "i", "scopes": ["repo"]}
    old = desired("auth_credentials", "x", data | {"client_secret": "old"})
    new = desired("auth_credentials", "x", data | {"client_secret": CANARY})
    (change,) = plan_of([new], [live(old)]).changes
    assert (change.action, change.reason) == (Action.REPLACE, "client_id, client_secret changed (secret)")
    scoped = desired("auth_credentials", "x", data | {"client_secret": "old", "scopes": ["repo", "gist"]})
    (change,) = plan_of([scoped], [live(old)]).changes
    assert (change.action, change.reason) == (Action.REPLACE, "scopes is create-only")


def test_credentials_bound_by_an_oauth_setup_are_never_replaced_under_it() -> None:
    data = {"provider": "github", "client_id": "i", "scopes": ["repo"]}
    old = live(desired("auth_credentials", "x", data | {"client_secret": "old"}), id="par_1")
    new = desired("auth_credentials", "x", data | {"client_secret": CANARY})
    have = state(old).model_copy(update={"bound": {"par_1": ("pac_9", "pac_8")}})
    with pytest.raises(PlanError) as raised:
        build_plan(state(new), have)
    text = str(raised.value)
    assert "auth_credentials.x (par_1) would be replaced (client_id, client_secret changed (secret))" in text
    assert "2 auth configs to it that cannot move to a new one: pac_9, pac_8" in text
    assert "run the OAuth setup again" in text and CANARY not in text
    same = desired("auth_credentials", "x", data | {"client_secret": "old"})
    with pytest.raises(PlanError):  # nor by --replace
        build_plan(state(same), have, replace=["auth_credentials.x"])
    assert [c.action for c in build_plan(state(new), state(old)).changes] == [Action.REPLACE]  # nothing bound


def test_secret_without_fingerprint_in_live_is_treated_as_changed() -> None:
    r = desired("config", "x", {"deployment": "d", "value": {"a": 1}})
    stale = live(r)
    assert stale.stamp is not None
    bare = stale.model_copy(update={"stamp": stale.stamp.model_copy(update={"secret_fingerprint": None})})
    (change,) = plan_of([r], [bare]).changes
    assert change.action is Action.REPLACE


def test_replacing_a_deployment_cascades_to_create_only_dependents_and_repoints_templates() -> None:
    rs = basic()
    moved = [desired("deployment", "github", {"provider": "slack", "description": "GitHub tools",
                                                 "tools": ["create_issue"]})] + rs[1:]
    changes = by_address(plan_of(moved, [live(r) for r in rs]))
    assert changes["deployment.github"].action is Action.REPLACE
    for dependent in ("config.github-prod", "auth_config.github-oauth"):
        assert changes[dependent].action is Action.REPLACE
        assert changes[dependent].reason.startswith("deployment.github is replaced (deployment is create-only)")
        assert changes[dependent].depends_on == (A("deployment.github"),)
    template = changes["session_template.support"]
    assert template.action is Action.UPDATE
    assert [(ch.action, ch.key, ch.id) for ch in template.children] == [
        (Action.REPLACE, "github", "stp_support_github")
    ]
    assert template.depends_on == (A("deployment.github"), A("config.github-prod"), A("auth_config.github-oauth"))
    assert changes["deployment.github"].delete_after == (
        A("config.github-prod"), A("auth_config.github-oauth"), A("session_template.support"))
    assert changes["config.github-prod"].delete_after == (A("session_template.support"),)


def test_replace_reason_counts_repointed_dependents() -> None:
    rs = basic()
    want = list(rs)
    want[1] = desired("config", "github-prod", {"deployment": "github", "value": {"token": "rotated"}})
    change = by_address(plan_of(want, [live(r) for r in rs]))["config.github-prod"]
    assert change.reason == "value changed (secret): create new, repoint 1 dependent, delete old"


def test_template_providers_diff_as_a_set_keyed_by_deployment() -> None:
    deps = [desired("deployment", n, {"provider": "github"}) for n in ("a", "b", "c")]
    old = desired("session_template", "t", {"providers": [{"deployment": "a"}, {"deployment": "b", "tools": ["x"]}]})
    new = desired("session_template", "t", {"providers": [{"deployment": "b", "tools": ["y"]}, {"deployment": "c"}]})
    change = by_address(plan_of(deps + [new], [live(r) for r in deps + [old]]))["session_template.t"]
    assert change.action is Action.UPDATE
    assert [(ch.action, ch.key, ch.fields) for ch in change.children] == [
        (Action.DELETE, "a", ()), (Action.UPDATE, "b", ("tool_filters",)), (Action.CREATE, "c", ())]
    assert [d.field for d in change.diffs] == ["providers[a]", "providers[b].tools", "providers[c]"]
    assert change.reason == "providers changed"
    assert change.fields == ()


def test_template_provider_config_change_recreates_that_provider() -> None:
    rs = [desired("deployment", "a", {"provider": "github"}),
          desired("config", "c1", {"deployment": "a", "value": {"x": 1}}),
          desired("config", "c2", {"deployment": "a", "value": {"x": 2}})]
    old = desired("session_template", "t", {"providers": [{"deployment": "a", "config": "c1"}]})
    new = desired("session_template", "t", {"providers": [{"deployment": "a", "config": "c2"}]})
    change = by_address(plan_of(rs + [new], [live(r) for r in rs + [old]]))["session_template.t"]
    (child,) = change.children
    assert (child.action, child.key, child.after and child.after["config"]) == (Action.REPLACE, "a", "c2")


def test_template_provider_default_config_ignores_the_live_default() -> None:
    dep = desired("deployment", "a", {"provider": "github"})
    tmpl = desired("session_template", "t", {"providers": [{"deployment": "a"}]})
    lv = live(tmpl)
    items = [dict(tmpl.spec["providers"][0], config="pcf_default_not_ours", auth_config="pac_default")]
    lv = lv.model_copy(update={"spec": tmpl.spec | {"providers": items}})
    plan = plan_of([dep, tmpl], [live(dep), lv])
    assert plan.actionable() == ()


def test_dropping_an_explicit_config_of_ours_from_a_template_provider_is_a_change() -> None:
    rs = [
        desired("deployment", "a", {"provider": "github"}),
        desired("config", "c", {"deployment": "a", "value": {"x": 1}}),
    ]
    old = desired("session_template", "t", {"providers": [{"deployment": "a", "config": "c"}]})
    new = desired("session_template", "t", {"providers": [{"deployment": "a"}]})
    change = by_address(plan_of(rs + [new], [live(r) for r in rs + [old]]))["session_template.t"]
    assert change.action is Action.UPDATE and change.children[0].action is Action.REPLACE


def test_drift_is_flagged_and_explained() -> None:
    r = desired("deployment", "x", {"provider": "github", "description": "mine"})
    edited = live(r, spec=r.spec | {"description": "edited by hand"})
    (change,) = plan_of([r], [edited]).changes
    assert change.action is Action.UPDATE and change.drift
    assert change.reason == "changed outside metorial-apply"
    assert (change.diffs[0].before, change.diffs[0].after) == ("edited by hand", "mine")


def test_config_change_is_not_drift_and_both_together_say_so() -> None:
    r = desired("deployment", "x", {"provider": "github", "description": "old"})
    (change,) = plan_of([desired("deployment", "x", {"provider": "github", "description": "new"})], [live(r)]).changes
    assert not change.drift and change.reason == "description changed"
    edited = live(r, spec=r.spec | {"tool_filters": [{"type": "tool_keys", "keys": ["z"]}]})
    (both,) = plan_of([desired("deployment", "x", {"provider": "github", "description": "new"})], [edited]).changes
    assert both.drift and both.reason == "description, tools changed; also changed outside metorial-apply"


def test_sensitive_fields_are_redacted_everywhere() -> None:
    old = desired("deployment", "x", {"provider": "github", "description": "old"}, sensitive=frozenset({"description"}))
    new = desired(
        "deployment", "x", {"provider": "github", "description": CANARY}, sensitive=frozenset({"description"})
    )
    for plan in (plan_of([new], [live(old)]), plan_of([new], [])):
        text = repr([c.model_dump(exclude={"desired", "live"}) for c in plan.changes])
        assert CANARY not in text
    (change,) = plan_of([new], [live(old)]).changes
    assert change.diffs[0].secret and change.after and change.after["description"] == "(secret)"


def test_duplicate_live_resource_is_deleted_with_reason() -> None:
    r = desired("deployment", "x", {"provider": "github"})
    extra = live(r, id="pde_2", address=A("deployment.x~pde_2"))
    plan = plan_of([r], [live(r), extra])
    assert [(c.action, str(c.address), c.reason) for c in plan.actionable()] == [
        (Action.DELETE, "deployment.x~pde_2", "duplicate of deployment.x")]


def test_protect_is_carried_onto_changes() -> None:
    r = desired("deployment", "x", {"provider": "github"}, protect=True)
    (change,) = plan_of([desired("deployment", "x", {"provider": "slack"}, protect=True)], [live(r)]).changes
    assert change.protect and change.action is Action.REPLACE


def test_protect_flag_change_is_an_update_of_the_stamp_only() -> None:
    on = desired("deployment", "x", {"provider": "github"}, protect=True)
    off = desired("deployment", "x", {"provider": "github"})
    for want, have in ((on, off), (off, on)):
        (change,) = plan_of([want], [live(have)]).changes
        assert (change.action, change.reason, change.fields) == (Action.UPDATE, "protect changed", ("protect",))
        assert [(d.field, d.before, d.after) for d in change.diffs] == [("protect", have.protect, want.protect)]


def test_protect_from_the_last_apply_guards_a_resource_removed_from_config() -> None:
    r = desired("deployment", "x", {"provider": "github"}, protect=True)
    (change,) = plan_of([], [live(r)]).changes
    assert change.action is Action.DELETE and change.protect


def test_output_is_deterministic_regardless_of_input_order() -> None:
    rs = basic()
    a = plan_of(rs, [live(r) for r in rs[:2]])
    b = build_plan(state(*reversed(rs)), state(*[live(r) for r in reversed(rs[:2])]))
    assert a == b


def test_targets_limit_to_the_address_and_its_dependencies() -> None:
    plan = plan_of(basic(), [], targets=["config.github-prod"])
    assert [str(c.address) for c in plan.changes] == ["deployment.github", "config.github-prod"]


def test_target_of_a_replace_includes_the_dependents_it_forces() -> None:
    rs = basic()
    moved = [desired("deployment", "github", {"provider": "slack", "description": "GitHub tools",
                                                 "tools": ["create_issue"]})] + rs[1:]
    plan = plan_of(moved, [live(r) for r in rs], targets=[A("deployment.github")])
    assert {str(c.address) for c in plan.changes} == {
        "deployment.github", "config.github-prod", "auth_config.github-oauth", "session_template.support"}


def test_unknown_target_is_an_error() -> None:
    with pytest.raises(PlanError, match=r"config\.nope$"):
        plan_of(basic(), [], targets=["config.nope"])


def test_a_mistyped_target_suggests_the_address_it_is_close_to() -> None:
    with pytest.raises(PlanError, match=r'config\.github-prd \(did you mean "config\.github-prod"\?\)$'):
        plan_of(basic(), [], targets=["config.github-prd"])


def test_live_fingerprints_cover_every_live_resource_even_with_targets() -> None:
    rs = basic()
    plan = plan_of(rs, [live(r) for r in rs], targets=["deployment.github"])
    assert set(plan.live_fingerprints) == {str(r.address) for r in rs}


def test_salt_is_not_needed_for_comparison_purity() -> None:
    # The same inputs plan identically twice: no randomness inside build_plan.
    r = desired("config", "x", {"deployment": "d", "value": {"token": CANARY}})
    assert plan_of([r], [live(r, salt=SALT)]) == plan_of([r], [live(r, salt=SALT)])
