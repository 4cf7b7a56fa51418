"""`ignore: [field, …]` in the YAML: what it becomes, what it refuses (at the list item's line),
and the JSON Schema's list of names per kind."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from metorial_apply.config.ignore import ignorable
from metorial_apply.config.load import load_config
from metorial_apply.config.schema import document_schema
from metorial_apply.core.errors import ConfigError
from metorial_apply.core.kinds import SECTIONS
from metorial_apply.core.model import Address

STACK = """\
stack: s
deployments:
  gh:
    provider: github
    description: YAML text
    ignore: [description, tools, metadata]
configs:
  cfg:
    deployment: gh
    value: {token: t}
    ignore: [value]
"""


def load(tmp_path: Path, text: str) -> ConfigError | None:
    path = tmp_path / "stack.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path, env={})
    except ConfigError as exc:
        return exc
    return None


def test_ignore_becomes_canonical_field_names_on_the_desired_resource(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK, encoding="utf-8")
    state = load_config(path, env={})
    dep = state.get(Address(kind="deployment", name="gh"))
    cfg = state.get(Address(kind="config", name="cfg"))
    assert dep is not None and dep.ignore == frozenset({"description", "tool_filters", "metadata"})
    assert dep.spec["description"] == "YAML text"  # still sent on create
    assert cfg is not None and cfg.ignore == frozenset({"value"}) and cfg.secret is not None
    assert "ignore" not in dep.spec  # not a field of the API object


@pytest.mark.parametrize(("item", "message", "hint"), [
    ("descripton", 'unknown field "descripton" in ignore', 'did you mean "description"?'),
    ("provider", "provider cannot be ignored: it is create-only for a deployment", "ignorable fields: description"),
    ("protect", "protect is metorial-apply's own setting", None),
    ("ignore", "ignore is metorial-apply's own setting", None),
])
def test_a_bad_name_is_refused_at_its_own_line_and_column(tmp_path: Path, item: str, message: str,
                                                          hint: str | None) -> None:
    exc = load(tmp_path, f"stack: s\ndeployments:\n  gh:\n    provider: github\n    ignore:\n      - name\n"
                         f"      - {item}\n")
    assert exc is not None and len(exc.diagnostics) == 1
    d = exc.diagnostics[0]
    assert (d.line, d.column, d.path) == (7, 9, "deployments.gh.ignore[1]")
    assert message in d.message
    assert (hint is None and d.hint is None) or (hint is not None and d.hint and hint in d.hint)


def test_create_only_identity_fields_of_every_kind_cannot_be_ignored() -> None:
    for kind in SECTIONS.values():
        names = ignorable(kind)
        assert not {"provider", "deployment", "vault", "method", "protect", "ignore"} & set(names), kind.kind
        assert "description" in names and "metadata" in names


def test_credentials_secret_fields_are_ignored_together(tmp_path: Path) -> None:
    base = "stack: s\nauth_credentials:\n  c:\n    provider: github\n    client_id: a\n    client_secret: b\n"
    exc = load(tmp_path, base + "    ignore: [client_id]\n")
    assert exc is not None and "ignore all of them or none" in exc.diagnostics[0].message
    assert exc.diagnostics[0].hint == "add client_secret" and exc.diagnostics[0].line == 7
    assert load(tmp_path, base + "    ignore: [client_id, client_secret]\n") is None


def test_the_schema_lists_each_kinds_ignorable_fields() -> None:
    validator = jsonschema.Draft202012Validator(document_schema())
    ok = {"deployments": {"gh": {"provider": "github", "ignore": ["description", "tools"]}}}
    assert validator.is_valid(ok)
    assert not validator.is_valid({"deployments": {"gh": {"provider": "github", "ignore": ["provider"]}}})
    assert not validator.is_valid({"deployments": {"gh": {"provider": "github", "ignore": ["value"]}}})
    assert validator.is_valid({"configs": {"c": {"deployment": "gh", "value": {}, "ignore": ["value"]}}})
