"""apply_plan against an in-memory fake API: order, bodies, stamps, faults, partial failure."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from metorial_apply.apply.journal import Journal
from metorial_apply.apply.run import ChangeFinished, ChangeStarted, apply_plan
from metorial_apply.apply.schedule import Outcome
from metorial_apply.core.fingerprint import matches
from metorial_apply.core.model import Stamp
from metorial_apply.planning.plan import Action, ChildChange
from tests.apply.fakes import (
    FakeApi,
    addr,
    change,
    config,
    deployment,
    desired,
    item,
    live,
    plan,
    template,
)

pytestmark = pytest.mark.anyio
CANARY = "canary-secret-7f3a9b"


def stack_plan() -> tuple:
    return plan(
        change(Action.CREATE, desired("session_template.bot", template("bot", [item("gh", "gh-prod")]))),
        change(Action.CREATE, desired("config.gh-prod", config("gh-prod", "gh"), secret={"token": CANARY})),
        change(Action.CREATE, desired("deployment.gh", deployment("gh", metadata={"team": "support"}))),
    )


async def test_creates_run_after_what_they_reference_and_use_fresh_ids() -> None:
    api = FakeApi(delay=0.001)
    report = await apply_plan(stack_plan(), api)
    assert report.ok and report.count(Outcome.DONE) == 3
    assert api.index("POST", "gh") < api.index("POST", "gh-prod") < api.index("POST", "bot")
    dep = api.active("/provider-deployments")[0]
    cfg = api.calls[api.index("POST", "gh-prod")].body
    assert cfg["provider_deployment_id"] == dep["id"]
    bot = api.calls[api.index("POST", "bot")].body
    assert bot["providers"] == [
        {"provider_deployment_id": dep["id"], "provider_config_id": cfg_id(api), "tool_filters": []}
    ]


def cfg_id(api: FakeApi) -> str:
    return api.active("/provider-configs")[0]["id"]


async def test_create_carries_user_metadata_and_full_stamp_in_the_same_call() -> None:
    api = FakeApi()
    await apply_plan(stack_plan(), api)
    dep_body = api.calls[api.index("POST", "gh")].body
    assert dep_body["metadata"]["team"] == "support"
    _, stamp = Stamp.split(dep_body["metadata"])
    assert (
        stamp and stamp.stack == "prod" and stamp.address == "deployment.gh" and stamp.spec_hash.startswith("sha256:")
    )
    cfg_body = api.calls[api.index("POST", "gh-prod")].body
    assert cfg_body["value"] == {"token": CANARY}  # the secret goes to the API, once
    _, cstamp = Stamp.split(cfg_body["metadata"])
    assert cstamp and cstamp.secret_fingerprint and cstamp.secret_salt
    from metorial_apply.core.model import SecretValue
    assert matches(SecretValue({"token": CANARY}), cstamp)
    assert CANARY not in json.dumps(cfg_body["metadata"])


async def test_deletes_run_in_reverse_dependency_order() -> None:
    api = FakeApi(delay=0.001)
    d = api.seed("/provider-deployments", {"id": "pde_1", "status": "active"})
    c = api.seed("/provider-configs", {"id": "pcf_1", "status": "active"})
    t = api.seed("/session-templates", {"id": "set_1", "status": "active"})
    p = plan(
        change(Action.DELETE, have=live("deployment.gh", deployment("gh"), d["id"])),
        change(Action.DELETE, have=live("config.gh-prod", config("gh-prod", "gh"), c["id"])),
        change(Action.DELETE, have=live("session_template.bot", template("bot", [item("gh", "gh-prod")]), t["id"])),
    )
    report = await apply_plan(p, api, parallelism=8)
    assert report.ok
    assert api.index("DELETE", "bot") < api.index("DELETE", "gh-prod") < api.index("DELETE", "gh")


async def test_delete_of_something_already_gone_is_done() -> None:
    api = FakeApi()
    api.seed("/provider-configs", {"id": "pcf_9", "status": "archived"})
    p = plan(change(Action.DELETE, have=live("config.a", config("a", "gh"), "pcf_9")),
             change(Action.DELETE, have=live("config.b", config("b", "gh"), "pcf_404")))
    report = await apply_plan(p, api)
    assert report.ok and {r.note for r in report.results} == {"already gone"}


async def test_failure_skips_exactly_its_dependents_and_independent_changes_land() -> None:
    api = FakeApi(reject={("POST", "gh-prod"): "value.token: is required"})
    p = plan(*stack_plan().changes,
             change(Action.CREATE, desired("deployment.linear", deployment("linear", provider="linear"))))
    report = await apply_plan(p, api)
    outcome = {str(r.address): r.outcome for r in report.results}
    assert outcome == {"session_template.bot": Outcome.SKIPPED, "config.gh-prod": Outcome.FAILED,
                       "deployment.gh": Outcome.DONE, "deployment.linear": Outcome.DONE}
    failed = next(r for r in report.results if r.outcome is Outcome.FAILED)
    assert "400 invalid_data: value.token: is required (POST /provider-configs, request req_fake)" in failed.summary()
    skipped = next(r for r in report.results if r.outcome is Outcome.SKIPPED)
    assert skipped.summary() == "skipped: depends on config.gh-prod"
    assert report.residual_line() == "+ session_template.bot, + config.gh-prod"
    assert not report.ok
    assert all(c.name != "bot" for c in api.calls)


async def test_lost_create_response_is_adopted_never_duplicated() -> None:
    api = FakeApi(lose={("POST", "gh"): "commit"})
    report = await apply_plan(stack_plan(), api)
    assert report.ok
    assert len(api.active("/provider-deployments")) == 1
    assert sum(1 for c in api.calls if c.method == "POST" and c.name == "gh") == 1
    gh = next(r for r in report.results if str(r.address) == "deployment.gh")
    assert gh.note == "adopted after a lost response" and gh.id == api.active("/provider-deployments")[0]["id"]
    # the dependent used the adopted id
    assert api.calls[api.index("POST", "gh-prod")].body["provider_deployment_id"] == gh.id


async def test_lost_create_that_never_landed_is_created_once_more() -> None:
    api = FakeApi(lose={("POST", "gh"): "drop"}, list_failures=2)  # the recovery listing also flakes
    report = await apply_plan(stack_plan(), api)
    assert report.ok
    assert len(api.active("/provider-deployments")) == 1
    assert sum(1 for c in api.calls if c.method == "POST" and c.name == "gh") == 2
    assert (
        next(r for r in report.results if str(r.address) == "deployment.gh").note
        == "created again after a lost response"
    )


async def test_recovery_keeps_one_and_deletes_extras() -> None:
    api = FakeApi(lose={("POST", "gh"): "commit"})
    stamp = Stamp(stack="prod", address="deployment.gh", spec_hash="sha256:x").to_metadata()
    api.seed("/provider-deployments", {"id": "pde_old", "status": "active", "created_at": "t000000", "metadata": stamp})
    report = await apply_plan(plan(change(Action.CREATE, desired("deployment.gh", deployment("gh")))), api)
    assert report.ok and len(api.active("/provider-deployments")) == 1
    assert "1 duplicate(s) removed" in report.results[0].note
    # other stacks' and unstamped objects are never touched
    assert api.objects["/provider-deployments"]["pde_old"]["status"] == "archived"


async def test_update_patches_only_changed_fields_and_metadata_whole() -> None:
    api = FakeApi()
    api.seed("/provider-deployments", {"id": "pde_1", "status": "active"})
    have = live("deployment.gh", deployment("gh", description="old", metadata={"team": "a"}), "pde_1")
    want = desired("deployment.gh", deployment("gh", description="new", metadata={"team": "a"}))
    report = await apply_plan(plan(change(Action.UPDATE, want, have, fields=("description",))), api)
    assert report.ok
    body = api.calls[-1].body
    assert set(body) == {"description", "tool_filters", "metadata"}  # tool_filters: KindSpec.patch_always
    assert body["description"] == "new" and body["metadata"]["team"] == "a"
    assert body["metadata"]["metorial-apply/address"] == "deployment.gh"


async def test_template_update_applies_child_changes_before_the_stamp() -> None:
    api = FakeApi()
    api.seed("/session-templates", {"id": "set_1", "status": "active"})
    api.seed("/session-template-providers", {"id": "stp_a", "status": "active"})
    api.seed("/session-template-providers", {"id": "stp_b", "status": "active"})
    have = live("session_template.bot", template("bot", [item("a"), item("b")]), "set_1", {"a": "stp_a", "b": "stp_b"})
    want = desired(
        "session_template.bot",
        template("bot", [item("b", tool_filters=[{"type": "tool_regex", "pattern": "^x"}]), item("c")]),
    )
    kids = (ChildChange(action=Action.DELETE, key="a", reason="gone", id="stp_a"),
            ChildChange(action=Action.UPDATE, key="b", reason="tools", id="stp_b", fields=("tool_filters",)),
            ChildChange(action=Action.CREATE, key="c", reason="new", after=item("c")))
    ids = {addr("deployment.a"): "pde_a", addr("deployment.b"): "pde_b", addr("deployment.c"): "pde_c"}
    p = plan(change(Action.UPDATE, want, have, fields=("providers",), children=kids),
             *[change(Action.NOOP, have=live(str(a), deployment(a.name), i)) for a, i in ids.items()])
    report = await apply_plan(p, api)
    assert report.ok, report.results
    kinds = [(c.method, c.path, c.id) for c in api.calls]
    assert kinds[0] == ("DELETE", "/session-template-providers", "stp_a")
    assert ("PATCH", "/session-template-providers", "stp_b") in kinds
    assert api.calls[-1].method == "PATCH" and api.calls[-1].path == "/session-templates"
    post = next(c for c in api.calls if c.method == "POST")
    assert post.body == {"session_template_id": "set_1", "provider_deployment_id": "pde_c", "tool_filters": []}


async def test_replace_creates_new_repoints_dependents_then_deletes_old() -> None:
    api = FakeApi()
    api.seed("/provider-configs", {"id": "pcf_old", "status": "active"})
    api.seed("/session-templates", {"id": "set_1", "status": "active"})
    api.seed("/session-template-providers", {"id": "stp_1", "status": "active"})
    have_cfg = live("config.gh-prod", config("gh-prod", "gh"), "pcf_old")
    want_cfg = desired("config.gh-prod", config("gh-prod", "gh"), secret={"token": CANARY})
    tspec = template("bot", [item("gh", "gh-prod")])
    repoint = ChildChange(action=Action.REPLACE, key="gh", reason="repoint to replaced config.gh-prod", id="stp_1",
                          after=item("gh", "gh-prod"))
    p = plan(  # as the planner makes it: the template is an update that repoints its provider
        change(Action.NOOP, have=live("deployment.gh", deployment("gh"), "pde_1")),
        change(Action.REPLACE, want_cfg, have_cfg),
        change(
            Action.UPDATE,
            desired("session_template.bot", tspec),
            live("session_template.bot", tspec, "set_1", {"gh": "stp_1"}),
            children=(repoint,),
        ),
    )
    assert p.changes[1].replace_mode == "create_first"
    assert p.changes[1].delete_after == (addr("session_template.bot"),)
    report = await apply_plan(p, api)
    assert report.ok, report.results
    new_id = next(r.id for r in report.results if str(r.address) == "config.gh-prod")
    order = [(c.method, c.path, c.id) for c in api.calls]
    assert order[0][:2] == ("POST", "/provider-configs")
    assert order.index(("DELETE", "/session-template-providers", "stp_1")) < order.index(
        ("DELETE", "/provider-configs", "pcf_old")
    )
    repost = next(c for c in api.calls if c.method == "POST" and c.path == "/session-template-providers")
    assert repost.body["provider_config_id"] == new_id
    assert api.calls[-1] .method == "DELETE" and api.calls[-1].id == "pcf_old"
    cfg = next(r for r in report.results if str(r.address) == "config.gh-prod")
    assert cfg.summary().startswith(f"replaced {new_id} (deleted pcf_old)")


async def test_events_and_journal_cover_every_change_without_secrets() -> None:
    api = FakeApi(reject={("POST", "gh-prod"): "value.token: is required"})
    events: list = []
    buf = io.StringIO()
    journal = Journal(buf, stack="prod")
    report = await apply_plan(stack_plan(), api, on_event=events.append, journal=journal)
    finished = [e for e in events if isinstance(e, ChangeFinished)]
    assert [e.index for e in finished] == [1, 2, 3] and all(e.total == 3 for e in finished)
    assert {str(e.address) for e in events if isinstance(e, ChangeStarted)} == {"deployment.gh", "config.gh-prod"}
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [line["outcome"] for line in lines if line["event"] == "change"] == ["done", "failed", "skipped"]
    text = buf.getvalue() + repr(report) + report.summary()
    assert CANARY not in text


async def test_parallelism_caps_concurrent_calls() -> None:
    api = FakeApi(delay=0.005)
    p = plan(*[change(Action.CREATE, desired(f"deployment.d{i}", deployment(f"d{i}"))) for i in range(12)])
    await apply_plan(p, api, parallelism=3)
    assert api.peak == 3


async def test_cancel_before_start_runs_nothing_and_reports_interrupted() -> None:
    api = FakeApi()
    cancel = asyncio.Event()
    cancel.set()
    report = await apply_plan(stack_plan(), api, cancel=cancel)
    assert report.stopped == "interrupted" and report.count(Outcome.SKIPPED) == 3 and api.calls == []
