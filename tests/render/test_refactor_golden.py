"""The look of a plan built with `--replace` and `ignore:` (build_plan, not hand-built): the
requested replace with its cascade and repoint, and the one "ignored:" note per resource, in
text, Markdown and JSON, matched against reviewed golden files."""

from __future__ import annotations

import pytest

from metorial_apply.planning.plan import Plan, build_plan
from tests.plan.factory import basic, live, state
from tests.render.golden_files import check_golden
from tests.render.test_golden import RENDERERS


def refactor_plan() -> Plan:
    rs = basic()
    dep, cfg, auth, template = rs
    ignored_dep = dep.model_copy(update={"ignore": frozenset({"description", "metadata"})})
    ignored_auth = auth.model_copy(update={"ignore": frozenset({"value"})})
    have = [live(dep, spec=dep.spec | {"description": "edited in the dashboard"}), live(cfg), live(auth),
            live(template)]
    have = [r.model_copy(update={"fingerprint": f"sha256:{i:02d}"}) for i, r in enumerate(have)]  # stable bytes
    return build_plan(state(ignored_dep, cfg, ignored_auth, template), state(*have), replace=["config.github-prod"])


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_replace_and_ignore_plan_matches_golden(name: str) -> None:
    check_golden("refactor" + name[len("plan"):], RENDERERS[name](refactor_plan()))
