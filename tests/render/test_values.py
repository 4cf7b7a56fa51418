"""How single values read: tool rules, template providers, quoting, cutting."""

from __future__ import annotations

import pytest

from metorial_apply.render.values import display_field, format_value, shape_of


@pytest.mark.parametrize("kind, path, shape", [
    ("deployment", "tools", "tools"), ("deployment", "tool_filters", "tools"),
    ("session_template", "providers", "children"), ("session_template", "providers[github]", "child"),
    ("session_template", "providers[github].tools", "tools"), ("deployment", "description", "plain"),
    ("deployment", "providers", "plain"), ("mystery", "providers[x]", "plain"),
])
def test_shape_comes_from_the_registry(kind: str, path: str, shape: str) -> None:
    assert shape_of(kind, path) == shape


@pytest.mark.parametrize("rules, text", [
    ([], "(all)"), (None, "(all)"), (["a", "b"], "[a, b]"),
    ([{"tool_regex": "^list_"}], '[tool_regex "^list_"]'),
    ([{"type": "tool_keys", "keys": ["a"]}, {"type": "resource_uris", "uris": ["x://y"]}], "[a, resource_uris [x://y]]"),
])
def test_tool_rules_read_like_yaml(rules: object, text: str) -> None:
    assert format_value(rules, "tools") == text


def test_tool_rules_without_brackets_for_markdown() -> None:
    assert format_value(["a", "b"], "tools", quote=False) == "a, b"


def test_template_providers_read_as_deployment_with_refs() -> None:
    items = [{"deployment": "github", "config": "github-prod", "auth_config": None, "tools": []},
             {"deployment": "linear", "tools": ["x"]}]
    assert format_value(items, "children", kind="session_template", width=200) == \
        "github (config github-prod), linear (tools [x])"
    assert format_value("config.a (new)", "child", kind="session_template") == "config.a (new)"


@pytest.mark.parametrize("value, text", [
    ("github", "github"), ("GitHub tools", '"GitHub tools"'), ("", '""'), ("true", '"true"'), ("42", '"42"'),
    (True, "true"), (3, "3"), (None, "(none)"), ({"team": "a b"}, '{team: "a b"}'), (["x", 1], "[x, 1]"),
    ("line1\nline2", '"line1\\nline2"'), ("(secret)", "(secret)"),
])
def test_plain_values_quote_only_when_ambiguous(value: object, text: str) -> None:
    assert format_value(value) == text


def test_markdown_strings_are_raw_single_lines() -> None:
    assert format_value("a b\nc", quote=False) == "a b⏎ c"


def test_cut_marks_the_cut() -> None:
    text = format_value("x" * 100, width=10)
    assert len(text) == 10 and text.endswith("…")


def test_display_field_uses_yaml_words() -> None:
    assert display_field("providers[github].tool_filters") == "providers[github].tools"
    assert display_field("description") == "description"
