"""graph ordering and cycles, saved-plan round trip and tamper checks, staleness, safety rules,
fingerprints."""

from __future__ import annotations

import json

import pytest

from metorial_apply.core import fingerprint
from metorial_apply.core.errors import PlanError, SafetyError, StalePlanError
from metorial_apply.core.model import Address, SecretValue, Stamp
from metorial_apply.planning.action import Action
from metorial_apply.planning.graph import check_acyclic, execution_order
from metorial_apply.planning.plan import build_plan
from metorial_apply.planning.safety import check_destroy, check_safety
from metorial_apply.planning.saved import (
    check_stale,
    checksum,
    desired_digest,
    load_saved_plan,
    plan_to_dict,
    plan_to_json,
    same_plan,
    saved_targets,
    verify_desired,
)
from tests.plan.factory import CANARY, SALT, basic, desired, live, state

A = Address.parse


# -- graph -----------------------------------------------------------------------------------

def test_reference_cycle_names_the_cycle() -> None:
    refs = {A("config.a"): frozenset({A("config.b")}), A("config.b"): frozenset({A("config.a")})}
    with pytest.raises(PlanError, match=r"reference cycle: config\.(a|b) → config\.(a|b) → config\.(a|b)"):
        check_acyclic(refs)


def test_dependency_cycle_is_an_error_not_a_hang() -> None:
    actions = {A("config.a"): Action.CREATE, A("config.b"): Action.CREATE}
    with pytest.raises(PlanError, match="dependency cycle"):
        execution_order(actions, {A("config.a"): [A("config.b")], A("config.b"): [A("config.a")]})


def test_order_ties_break_by_kind_then_name_and_deps_win() -> None:
    actions = {A(x): Action.CREATE for x in ("config.b", "config.a", "deployment.z", "session_template.t")}
    actions[A("deployment.old")] = Action.DELETE
    actions[A("config.gone")] = Action.DELETE
    depends = {A("config.a"): [A("deployment.z")], A("deployment.old"): [A("config.gone")]}
    assert [str(a) for a in execution_order(actions, depends)] == [
        "deployment.z", "config.a", "config.b", "session_template.t", "config.gone", "deployment.old"]


# -- saved plans -----------------------------------------------------------------------------

def saved_plan_text() -> str:
    rs = basic()
    want = list(rs)
    want[0] = desired(
        "deployment", "github", {"provider": "github", "description": "changed", "tools": ["create_issue"]}
    )
    want[1] = desired("config", "github-prod", {"deployment": "github", "value": {"token": "rotated"}})
    plan = build_plan(state(*want[:3]), state(*[live(r) for r in rs]))
    plan = plan.model_copy(update={"config_path": "prod/", "desired_digest": desired_digest(state(*want[:3]), SALT)})
    return plan_to_json(plan)


def test_saved_plan_round_trips_and_is_byte_stable() -> None:
    text = saved_plan_text()
    plan = load_saved_plan(text)
    assert plan_to_json(plan) == text
    assert [c.action for c in plan.actionable()] == [Action.UPDATE, Action.REPLACE, Action.DELETE]
    assert all(c.desired is None and c.live is None for c in plan.changes)
    assert CANARY not in text and "rotated" not in text


@pytest.mark.parametrize("edit", [
    lambda d: d["changes"][0].update(reason="sneaky"),
    lambda d: d["live_fingerprints"].update({"deployment.github": "sha256:0"}),
    lambda d: d.update(stack="other"),
])
def test_tampered_plan_is_refused(edit) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(saved_plan_text())
    edit(data)
    with pytest.raises(PlanError, match="checksum mismatch"):
        load_saved_plan(json.dumps(data))


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "not valid JSON"), ("[]", "expected a JSON object"), ('{"a": 1}', "not a metorial-apply saved plan"),
])
def test_corrupt_plan_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        load_saved_plan(text)


def test_future_format_version_is_refused_with_its_number() -> None:
    data = json.loads(saved_plan_text()) | {"format_version": 99}
    with pytest.raises(PlanError, match="format 99 is not supported"):
        load_saved_plan(json.dumps(data))


def test_stale_plan_names_changed_appeared_and_vanished() -> None:
    rs = basic()
    plan = build_plan(state(*rs), state(*[live(r) for r in rs[:3]]))
    check_stale(plan, state(*[live(r) for r in rs[:3]]))
    moved = [live(rs[0], spec=rs[0].spec | {"description": "hand"}), live(rs[2]), live(rs[3])]
    with pytest.raises(StalePlanError) as info:
        check_stale(plan, state(*moved))
    assert info.value.moved == ("deployment.github (changed)", "session_template.support (appeared)",
                                "config.github-prod (vanished)")


def test_desired_digest_detects_a_changed_secret_without_exposing_it() -> None:
    rs = basic()
    digest = desired_digest(state(*rs), SALT)
    assert CANARY not in digest and digest.startswith("scrypt:16384:8:1:" + SALT)
    plan = build_plan(state(*rs), state()).model_copy(update={"desired_digest": digest})
    verify_desired(plan, state(*rs))
    rotated = list(rs)
    rotated[1] = desired("config", "github-prod", {"deployment": "github", "value": {"token": CANARY + "x"}})
    with pytest.raises(StalePlanError, match="configuration changed"):
        verify_desired(plan, state(*rotated))


def test_same_plan_accepts_the_rebuilt_plan_and_names_the_first_difference() -> None:
    rs = basic()
    fresh = build_plan(state(*rs), state(live(rs[0])))
    saved = load_saved_plan(plan_to_json(fresh))
    same_plan(saved, fresh)  # a loaded plan equals the plan it was saved from
    assert saved_targets(saved, state(*rs), state(live(rs[0]))) == ()
    data = json.loads(plan_to_json(fresh))
    data["changes"][1]["action"] = "delete"
    del data["checksum"]
    forged = load_saved_plan(json.dumps(data | {"checksum": checksum(data)}))
    with pytest.raises(PlanError, match=r"change 2 \(auth_config.github-oauth\) differs in 'action'"):
        same_plan(forged, fresh)
    shorter = fresh.model_copy(update={"changes": fresh.changes[:-1]})
    with pytest.raises(PlanError, match=r"is only in the saved plan"):
        same_plan(saved, shorter)


def test_plan_to_dict_has_version_checksum_summary() -> None:
    data = plan_to_dict(build_plan(state(*basic()), state()))
    assert data["format_version"] == 3 and data["checksum"].startswith("sha256:")
    assert data["summary"] == {"create": 4, "update": 0, "replace": 0, "delete": 0, "import": 0, "takeover": 0,
                               "move": 0, "forget": 0, "rotate": 0, "noop": 0}


# -- safety ----------------------------------------------------------------------------------

def stack_plan(n_live: int, n_keep: int):  # type: ignore[no-untyped-def]
    rs = [desired("deployment", f"d{i:02}", {"provider": "github"}) for i in range(n_live)]
    return build_plan(state(*rs[:n_keep]), state(*[live(r) for r in rs])), n_keep, n_live


def test_ci_mode_needs_allow_delete() -> None:
    plan, d, lv = stack_plan(3, 2)
    with pytest.raises(SafetyError) as info:
        check_safety(plan, ci=True, allow_delete=False, force=False, allow_empty=False, desired_count=d, live_count=lv)
    assert info.value.flag == "--allow-delete" and "deployment.d02" in str(info.value)
    check_safety(plan, ci=True, allow_delete=True, force=False, allow_empty=False, desired_count=d, live_count=lv)
    check_safety(plan, ci=False, allow_delete=False, force=False, allow_empty=False, desired_count=d, live_count=lv)


def test_mass_delete_needs_force_only_for_stacks_of_ten_or_more() -> None:
    plan, d, lv = stack_plan(10, 6)  # 40 %
    with pytest.raises(SafetyError) as info:
        check_safety(plan, ci=False, allow_delete=True, force=False, allow_empty=False, desired_count=d, live_count=lv)
    assert info.value.flag == "--force" and "4 of 10" in str(info.value)
    check_safety(plan, ci=False, allow_delete=True, force=True, allow_empty=False, desired_count=d, live_count=lv)
    plan, d, lv = stack_plan(10, 7)  # 30 %: allowed
    check_safety(plan, ci=False, allow_delete=True, force=False, allow_empty=False, desired_count=d, live_count=lv)
    plan, d, lv = stack_plan(9, 1)  # small stack
    check_safety(plan, ci=False, allow_delete=True, force=False, allow_empty=False, desired_count=d, live_count=lv)


def test_empty_config_deleting_everything_needs_allow_empty() -> None:
    plan, d, lv = stack_plan(3, 0)
    with pytest.raises(SafetyError) as info:
        check_safety(plan, ci=False, allow_delete=True, force=True, allow_empty=False, desired_count=d, live_count=lv)
    assert info.value.flag == "--allow-empty"
    check_safety(plan, ci=False, allow_delete=True, force=True, allow_empty=True, desired_count=d, live_count=lv)


def test_protected_resource_refuses_replace_and_says_how() -> None:
    r = desired("deployment", "x", {"provider": "github"}, protect=True)
    plan = build_plan(state(desired("deployment", "x", {"provider": "slack"}, protect=True)), state(live(r)))
    with pytest.raises(SafetyError, match=r"deployment\.x .*remove `protect: true`") as info:
        check_safety(plan, ci=False, allow_delete=True, force=True, allow_empty=True, desired_count=1, live_count=1)
    assert info.value.flag is None


def test_destroy_refuses_what_the_config_or_the_live_stamp_protects_and_says_how() -> None:
    rs = [desired("deployment", name, {"provider": "github"}, protect=name == "x") for name in ("x", "y", "z")]
    plan = build_plan(state(), state(*[live(r) for r in rs]))  # destroy: nothing desired
    with pytest.raises(SafetyError, match=r"destroy protected resources: deployment\.x, deployment\.z .*"
                                          r"set `protect: false` on them and apply first") as info:
        check_destroy(plan, frozenset({A("deployment.z")}))  # x: applied protected; z: protected in config
    assert info.value.flag is None and "deployment.y" not in str(info.value)
    with pytest.raises(SafetyError, match=r"deployment\.x"):
        check_destroy(plan, frozenset())  # no config (--stack alone): the live stamp still guards x
    unguarded = build_plan(state(), state(live(rs[1])))
    check_destroy(unguarded, frozenset())


def test_removing_a_protected_resource_from_config_is_refused_with_the_way_out() -> None:
    r = desired("deployment", "x", {"provider": "github"}, protect=True)
    plan = build_plan(state(), state(live(r), live(desired("deployment", "y", {"provider": "github"}))))
    with pytest.raises(SafetyError, match=r"delete protected resource: deployment\.x \(delete: not in config\)\. "
                                          r"To allow it: it was applied with `protect: true`: put it back"):
        check_safety(plan, ci=False, allow_delete=True, force=True, allow_empty=True, desired_count=1, live_count=2)


# -- fingerprints ----------------------------------------------------------------------------

def test_fingerprint_matches_only_the_same_secret_and_salt() -> None:
    secret = SecretValue({"token": CANARY})
    stamp = fingerprint.stamp_for(desired("config", "x", {"deployment": "d", "value": {"token": CANARY}}), "prod", SALT)
    assert stamp.secret_salt == SALT and stamp.secret_fingerprint and CANARY not in stamp.secret_fingerprint
    assert stamp.secret_fingerprint.startswith("scrypt:4096:8:1:")
    assert fingerprint.matches(secret, stamp)
    assert not fingerprint.matches(SecretValue({"token": "other"}), stamp)
    other_salt = stamp.model_copy(update={"secret_salt": "ff" * 16})
    assert not fingerprint.matches(secret, other_salt)


@pytest.mark.parametrize("bad", ["scrypt:1048576:8:1:00", "md5:abc", "scrypt:x:8:1:00", ""])
def test_malformed_or_absurd_fingerprints_never_match(bad: str) -> None:
    stamp = Stamp(stack="s", address="config.x", spec_hash="h", secret_fingerprint=bad, secret_salt=SALT)
    assert not fingerprint.matches(SecretValue({"a": 1}), stamp)


def test_stamp_for_requires_a_salt_for_secrets_and_hashes_the_spec() -> None:
    r = desired("config", "x", {"deployment": "d", "value": {"a": 1}})
    with pytest.raises(ValueError, match="salt"):
        fingerprint.stamp_for(r, "prod", None)
    d = desired("deployment", "x", {"provider": "github"})
    stamp = fingerprint.stamp_for(d, "prod", None)
    assert stamp.secret_fingerprint is None and stamp.address == "deployment.x"
    assert stamp.to_metadata()["metorial-apply/spec-hash"].startswith("sha256:")


def test_new_salt_is_random_hex() -> None:
    a, b = fingerprint.new_salt(), fingerprint.new_salt()
    assert a != b and len(a) == 32 and bytes.fromhex(a)


def test_same_plan_compares_a_template_providers_whole_desired_item() -> None:
    """A child change is what a reviewer reads as "providers[github] … tools": a saved plan whose
    child differs in its desired item (not just action and key) is refused (issue 21 item 13)."""
    from metorial_apply.planning.action import ChildChange
    from metorial_apply.planning.plan import Change, Plan

    child = ChildChange(action=Action.CREATE, key="github", reason="added",
                        after={"deployment": "github", "tools": [{"tool_key": "create_issue"}]})
    change = Change(action=Action.UPDATE, address=Address.parse("session_template.bot"), reason="providers changed",
                    id="set_1", children=(child,))
    fresh = Plan(stack="prod", changes=(change,))
    data = json.loads(plan_to_json(fresh))
    data["changes"][0]["children"][0]["after"]["tools"] = [{"tool_regex": ".*"}]
    del data["checksum"]
    forged = load_saved_plan(json.dumps(data | {"checksum": checksum(data)}))
    with pytest.raises(PlanError, match=r"differs in 'children'"):
        same_plan(forged, fresh)
