"""A create whose outcome is unknown is resolved by looking up OUR stamp: this stack, this
address. Another stack's object with the same address, or an unstamped look-alike, is never
adopted and never deleted as a "duplicate"."""

from __future__ import annotations

from typing import Any

import pytest

from metorial_apply.apply.run import apply_plan
from metorial_apply.core.model import Stamp
from metorial_apply.planning.plan import Action
from tests.apply.fakes import FakeApi, change, deployment, desired, live, plan

pytestmark = pytest.mark.anyio
PATH = "/provider-deployments"


def neighbours(api: FakeApi) -> None:
    """Another stack's deployment.gh, and an unstamped one with the same name, both older than ours."""
    theirs = Stamp(stack="staging", address="deployment.gh", spec_hash="sha256:theirs").to_metadata()
    api.seed(PATH, {"id": "pde_theirs", "status": "active", "created_at": "t000001", "name": "gh",
                    "metadata": theirs})
    api.seed(PATH, {"id": "pde_plain", "status": "active", "created_at": "t000002", "name": "gh", "metadata": {}})


def by_id(api: FakeApi) -> dict[str, dict[str, Any]]:
    return api.objects[PATH]


async def test_a_committed_create_adopts_ours_and_leaves_another_stacks_alone() -> None:
    api = FakeApi(lose={("POST", "gh"): "commit"})  # created, then the answer was lost (or a 500)
    neighbours(api)
    report = await apply_plan(plan(change(Action.CREATE, desired("deployment.gh", deployment("gh")))), api)
    assert report.ok
    [ours] = [o for o in api.active(PATH) if o["id"] not in ("pde_theirs", "pde_plain")]
    assert report.results[0].id == ours["id"] and report.results[0].note == "adopted after a lost response"
    assert by_id(api)["pde_theirs"]["status"] == "active"  # not deleted as a duplicate
    assert by_id(api)["pde_plain"]["status"] == "active"
    assert [c.method for c in api.calls if c.id in ("pde_theirs", "pde_plain")] == []


async def test_a_create_that_never_landed_is_not_answered_by_another_stacks_object() -> None:
    api = FakeApi(lose={("POST", "gh"): "drop"})  # the create never happened
    neighbours(api)
    report = await apply_plan(plan(change(Action.CREATE, desired("deployment.gh", deployment("gh")))), api)
    assert report.ok and report.results[0].note == "created again after a lost response"
    assert report.results[0].id not in ("pde_theirs", "pde_plain")  # not adopted
    assert len(api.active(PATH)) == 3
    assert sum(1 for c in api.calls if c.method == "POST") == 2


async def test_a_replaces_lost_create_never_adopts_the_old_object_it_replaces() -> None:
    """The old half of a replace carries the same stack and address stamp: when the new object's
    create never landed, recovery must not take the old one for it, or it adopts the old object
    and the replace then deletes it, leaving none (issue 21 item 13)."""
    api = FakeApi(lose={("POST", "gh"): "drop"})
    old_stamp = Stamp(stack="prod", address="deployment.gh", spec_hash="sha256:old").to_metadata()
    api.seed(PATH, {"id": "pde_old", "status": "active", "created_at": "t000001", "name": "gh",
                    "metadata": old_stamp, "provider_id": "github"})
    have = live("deployment.gh", deployment("gh", provider="github"), "pde_old")
    report = await apply_plan(plan(change(Action.REPLACE, desired("deployment.gh", deployment("gh", description="new")),
                                          have)), api)
    assert report.ok, report.results
    [survivor] = api.active(PATH)
    assert survivor["id"] != "pde_old" and by_id(api)["pde_old"]["status"] != "active"
    assert report.results[0].id == survivor["id"] and "created again after a lost response" in report.results[0].note


async def test_an_unexpected_exception_never_lends_its_message_to_the_report() -> None:
    """A bug's message may quote a value (a secret among them): only our own errors are shown
    verbatim; anything else is "internal error (TYPE)" (issue 21 item 13)."""
    canary = "canary-secret-in-a-bug-4f1e"

    class Buggy(FakeApi):
        async def create(self, path: str, body: dict[str, Any], *, kind: str, name: str,
                         stamp: dict[str, str]) -> dict[str, Any]:
            raise ValueError(f"cannot encode {canary}")

    report = await apply_plan(plan(change(Action.CREATE, desired("deployment.gh", deployment("gh")))), Buggy())
    [result] = report.results
    assert result.error == "internal error (ValueError)" and canary not in repr(report)
