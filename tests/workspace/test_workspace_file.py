"""The workspace file: parsing with positioned errors, units, selection, and what counts as changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from metorial_apply.config.workspace import file_inputs, glob_pattern, is_changed, parse_workspace
from metorial_apply.core.errors import ConfigError

ORG = Path(__file__).resolve().parents[2] / "examples" / "org" / "metorial-apply.yaml"


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_workspace(text, "ws.yaml")
    return [str(d) for d in caught.value.diagnostics]


def test_the_sample_workspace_has_two_stacks_in_two_environments() -> None:
    ws = parse_workspace(ORG.read_text(), "metorial-apply.yaml")
    assert ws.name == "acme"
    assert [u.name for u in ws.units] == ["support/staging", "support/production", "engineering/staging",
                                          "engineering/production"]
    prod = ws.units[1]
    assert (prod.stack, prod.path, prod.file) == ("support-production", "stacks/support", "support.production")
    assert prod.var_files == ("envs/support/production.yaml", "shared/common.yaml")
    assert (prod.api_url_env, prod.api_key_env) == ("METORIAL_PRODUCTION_API_URL", "METORIAL_PRODUCTION_API_KEY")


def test_an_entry_without_environments_is_its_own_unit_and_needs_a_stack_name() -> None:
    ws = parse_workspace("workspace: w\nstacks:\n  app: {path: app, stack: app-prod, var_files: [v.yaml]}\n", "ws.yaml")
    assert [(u.name, u.stack, u.var_files, u.environment) for u in ws.units] == [("app", "app-prod", ("v.yaml",), None)]
    assert errors("workspace: w\nstacks:\n  app: {path: app}\n") == [
        "ws.yaml:3:3: stacks.app: a stack needs `stack:` (or `environments:`, each with `stack:`)"]


def test_a_shared_stack_name_beside_environments_is_refused() -> None:
    text = "workspace: w\nstacks:\n  app:\n    path: app\n    stack: app\n    environments: {prod: {stack: p}}\n"
    assert errors(text) == ["ws.yaml:5:5: stacks.app: `stack:` belongs to each environment here"]


def test_two_units_with_one_stack_name_on_one_api_are_refused() -> None:
    text = ("workspace: w\nstacks:\n  a: {path: a, stack: s, api_url_env: METORIAL_X}\n"
            "  b: {path: b, stack: s, api_url_env: METORIAL_X}\n  c: {path: c, stack: s, api_url_env: METORIAL_Y}\n")
    assert errors(text) == ["ws.yaml:4:3: stacks.b: b and a are both stack 's' on $METORIAL_X"]


@pytest.mark.parametrize(("text", "expected"), [
    ("workspace: w\nstacks:\n  a: {path: ../up, stack: s}\n",
     "ws.yaml:3:13: stacks.a.path: '../up': paths are relative to the workspace file and stay below it"),
    ("workspace: w\nstacks:\n  a: {path: a, stack: s, var_files: [/etc/x.yaml]}\n",
     "ws.yaml:3:37: stacks.a.var_files: '/etc/x.yaml': paths are relative"),
    ("workspace: w\nstacks:\n  a: {path: a, stack: s, api_url_env: CI_COMMIT_TITLE}\n",
     "ws.yaml:3:39: stacks.a.api_url_env: must name a variable METORIAL_"),
    ("workspace: w\nstacks:\n  A: {path: a, stack: s}\n",
     "ws.yaml:3:3: stacks.A: a stack or environment name is lower-case"),
    ("workspace: w\nstacks:\n  a: {path: a, stack: s, colour: red}\n",
     'ws.yaml:3:26: stacks.a: unknown field "colour"'),
    ("version: 2\nworkspace: w\nstacks: {a: {path: a, stack: s}}\n",
     "ws.yaml:1:10: version: workspace file version 2 is not supported"),
    ("stacks: {a: {path: a, stack: s}}\n", 'ws.yaml:1:1: missing required field "workspace"'),
])
def test_mistakes_name_file_line_and_path(text: str, expected: str) -> None:
    found = errors(text)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_selection_by_unit_or_entry_in_workspace_order_and_a_suggestion_for_a_typo() -> None:
    ws = parse_workspace(ORG.read_text(), "metorial-apply.yaml")
    assert [u.name for u in ws.select(["engineering/staging", "support"])] == [
        "support/staging", "support/production", "engineering/staging"]
    with pytest.raises(ConfigError) as caught:
        ws.select(["suport/staging"])
    assert caught.value.diagnostics[0].hint == 'did you mean "support/staging"?'


def test_globs_keep_star_within_a_directory_and_double_star_across() -> None:
    assert glob_pattern("shared/*.yaml").match("shared/a.yaml")
    assert not glob_pattern("shared/*.yaml").match("shared/deep/a.yaml")
    assert glob_pattern("shared/**/*.yaml").match("shared/deep/er/a.yaml")
    assert glob_pattern("shared/**/*.yaml").match("shared/a.yaml")
    assert not glob_pattern("shared/?.yaml").match("shared/ab.yaml")
    assert not glob_pattern("a.b").match("axb")  # a dot is a dot


def test_what_counts_as_a_change_of_a_unit() -> None:
    ws = parse_workspace(ORG.read_text(), "metorial-apply.yaml")
    staging, prod = ws.units[0], ws.units[1]
    inputs = {staging.name: frozenset({"secrets/token.txt"})}
    for path in ("stacks/support/stack.yaml", "envs/support/staging.yaml", "shared/common.yaml",
                 "shared/other.yaml", "metorial-apply.yaml", "secrets/token.txt"):
        assert is_changed(staging, [path], inputs, "metorial-apply.yaml"), path
    assert not is_changed(staging, ["envs/support/production.yaml"], inputs, "metorial-apply.yaml")
    assert not is_changed(prod, ["secrets/token.txt"], inputs, "metorial-apply.yaml")
    assert not is_changed(staging, ["stacks/support-old/stack.yaml"], inputs, "metorial-apply.yaml")


def test_file_inputs_are_found_but_escaped_references_are_not() -> None:
    text = "a: ${file:secrets/a.txt}\nb: $${file:literal}\nc: x-${file: ./b.pem }-y\n"
    assert file_inputs(text) == ["secrets/a.txt", "./b.pem"]
