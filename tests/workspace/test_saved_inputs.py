"""Saved plans inside a workspace may name inputs anywhere in it, and nowhere else."""

from __future__ import annotations

from pathlib import PurePosixPath as P

import pytest

from metorial_apply.core.errors import PlanError
from metorial_apply.planning.inputs import portable, recorded_path

ROOT, PLANS = P("/repo"), P("/repo/plans")


def test_inputs_beside_the_plans_directory_are_recorded_with_dot_dot_inside_a_workspace() -> None:
    assert portable(P("/repo/stacks/support"), PLANS, "configuration", ROOT) == "../stacks/support"
    with pytest.raises(PlanError, match="not inside /repo/plans"):
        portable(P("/repo/stacks/support"), PLANS, "configuration")  # no workspace: the old rule
    with pytest.raises(PlanError):
        portable(P("/elsewhere/x.yaml"), PLANS, "var file", ROOT)


@pytest.mark.parametrize("text", ["../stacks/support", "../envs/a.yaml", "../plans/../stacks/x"])
def test_a_recorded_path_may_climb_to_the_workspace_root(text: str) -> None:
    assert recorded_path(text, PLANS, "configuration", ROOT).is_relative_to(ROOT)


@pytest.mark.parametrize("text", ["../../etc/passwd", "../../repo-other/x", "/etc/passwd", "..\\\\x"])
def test_a_forged_path_out_of_the_workspace_is_refused(text: str) -> None:
    with pytest.raises(PlanError, match="outside its own directory"):
        recorded_path(text, PLANS, "configuration", ROOT)


def test_without_a_workspace_dot_dot_is_refused_as_before() -> None:
    with pytest.raises(PlanError, match="outside its own directory"):
        recorded_path("../stacks/support", PLANS, "configuration")
