"""Tool filters: shape-checking input `tool_filters`, the output `tool_filter`, evaluation."""

from __future__ import annotations

import re
from typing import Any

from . import choices
from .errors import field_problem

# Rule type → (the list or pattern field it carries, what it filters).
RULES: dict[str, tuple[str, str]] = {
    "tool_keys": ("keys", "tool"),
    "tool_regex": ("pattern", "tool"),
    "resource_uris": ("uris", "resource"),
    "resource_regex": ("pattern", "resource"),
    "prompt_keys": ("keys", "prompt"),
    "prompt_regex": ("pattern", "prompt"),
}


def check_rule(rule: Any, path: list[Any]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """One rule → its canonical form, or the problems with its shape."""
    if not isinstance(rule, dict):
        return None, [field_problem(path, "invalid_type", "Expected object")]
    kind = rule.get("type")
    if kind not in RULES:
        return None, [field_problem(path + ["type"], "invalid_enum_value", f"Expected one of: {', '.join(RULES)}")]
    field_name, _ = RULES[kind]
    value = rule.get(field_name)
    if field_name == "pattern":
        if not isinstance(value, str) or not value:
            return None, [field_problem(path + [field_name], "invalid_type", "Expected a non-empty string")]
    elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None, [field_problem(path + [field_name], "invalid_type", "Expected array of strings")]
    return {"type": kind, field_name: value}, []


def check_tool_filters(value: Any, path: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`null`, one rule, or a list of rules → canonical rule list (empty = allow all)."""
    if value is None:
        return [], []
    items = value if isinstance(value, list) else [value]
    rules: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for index, rule in enumerate(items):
        rule_path = path + [index] if isinstance(value, list) else path
        canonical, found = check_rule(rule, rule_path)
        problems += found
        if canonical is not None:
            rules.append(canonical)
    return rules, problems


def output_form(rules: list[dict[str, Any]]) -> dict[str, Any]:
    if not rules:
        return {"type": "allow_all", "ignore_parent_filters": False}
    return {"type": "filter", "filters": rules, "ignore_parent_filters": False}


def _regex_matches(pattern: str, text: str) -> bool:
    # Regexes are checked only when used: an invalid or over-long one matches nothing.
    if len(pattern) > choices.MAX_REGEX_LENGTH:
        return False
    try:
        return re.search(pattern, text, re.IGNORECASE) is not None
    except re.error:
        return False


def allows_tool(rules: list[dict[str, Any]], tool_key: str) -> bool:
    """A filter without tool rules allows every tool; otherwise any tool rule must match."""
    tool_rules = [r for r in rules if RULES[r["type"]][1] == "tool"]
    if not tool_rules:
        return True
    for rule in tool_rules:
        if rule["type"] == "tool_keys" and tool_key in rule["keys"]:
            return True
        if rule["type"] == "tool_regex" and _regex_matches(rule["pattern"], tool_key):
            return True
    return False
