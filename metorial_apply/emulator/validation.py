"""Body validation: field types, required fields, create vs update, and secret values.

Problems are collected for the whole body and reported in one 400 `invalid_data`. Messages
name the path and the rule only — never a received value, since values may be secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from . import choices
from .errors import field_problem, invalid_data
from .toolfilters import check_tool_filters

UNSET: Any = object()  # a field absent from the body (distinct from an explicit null)


@dataclass(frozen=True)
class FieldRule:
    """How one body field is read. `type`: text, id, object, strings, tool_filters, secret."""

    name: str
    type: str
    required: bool = False
    create: bool = True
    update: bool = False


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_EXPECTED = {"text": "string", "id": "string", "object": "object", "secret": "object", "strings": "array"}


def _check_value(rule: FieldRule, value: Any, path: list[Any]) -> tuple[Any, list[dict[str, Any]]]:
    """A present, non-null value → (cleaned value, problems)."""
    if rule.type == "tool_filters":
        return check_tool_filters(value, path)
    expected = _EXPECTED[rule.type]
    if json_type(value) != expected:
        return None, [field_problem(path, "invalid_type", f"Expected {expected}, received {json_type(value)}")]
    if rule.type == "strings" and not all(isinstance(v, str) for v in value):
        return None, [field_problem(path, "invalid_type", "Expected array of strings")]
    if rule.type == "text":
        # Trimmed; empty means unset on create and clear on PATCH (see choices.BLANK_TEXT_KEEPS_OLD).
        return (value.strip(choices.TRIM_CHARACTERS) or None), []
    if rule.type == "id" and not value:
        return None, [field_problem(path, "too_small", "Expected a non-empty id")]
    return value, []


def check_body(
    body: dict[str, Any], rules: tuple[FieldRule, ...], patch: bool, prefix: list[Any] | None = None
) -> dict[str, Any]:
    """Validated fields of `body` for a create (all create fields) or a PATCH (update fields).

    The result holds only present fields; on PATCH a null means "leave unchanged" except for
    `tool_filters`, where null means allow all. Raises 400 invalid_data.
    """
    problems: list[dict[str, Any]] = []
    cleaned = _collect(body, rules, patch, prefix or [], problems)
    if problems:
        raise invalid_data(problems)
    return cleaned


def _collect(
    body: dict[str, Any], rules: tuple[FieldRule, ...], patch: bool, prefix: list[Any], problems: list[dict[str, Any]]
) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for rule in rules:
        if not (rule.update if patch else rule.create):
            continue
        path = prefix + [rule.name]
        value = body.get(rule.name, UNSET)
        if value is UNSET or (value is None and rule.type != "tool_filters"):
            if rule.required and not patch:
                problems.append(field_problem(path, "required", "Required"))
            elif value is None and patch and rule.name == "locked_provider_version_id":
                cleaned[rule.name] = None  # null = follow the latest version
            continue
        result, found = _check_value(rule, value, path)
        if rule.required and result is None and not found:
            # A required name of only spaces is missing on create and cannot be cleared on PATCH.
            found = [field_problem(path, "required", "Required" if not patch else "Cannot be cleared")]
        problems += found
        if not found:
            cleaned[rule.name] = result
    return cleaned


def nested_body(body: dict[str, Any], name: str, rules: tuple[FieldRule, ...]) -> dict[str, Any] | None:
    """Validate an optional nested object field (e.g. a deployment's `provider_config`)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_data([field_problem([name], "invalid_type", f"Expected object, received {json_type(value)}")])
    return check_body(value, rules, patch=False, prefix=[name])


def _schema_problem(error: ValidationError, prefix: list[Any]) -> list[dict[str, Any]]:
    """One jsonschema error → field problems, built from the schema, never from the instance."""
    path = prefix + list(error.absolute_path)
    keyword = str(error.validator)
    if keyword == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        return [field_problem(path + [p], "required", "Required") for p in missing]
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in known)
        return [field_problem(path + [k], "unrecognized_keys", "Unrecognized property") for k in extra]
    if keyword == "type":
        return [field_problem(path, "invalid_type", f"Expected {error.validator_value}")]
    if keyword in ("minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems"):
        return [field_problem(path, "invalid_value", f"Must satisfy {keyword} {error.validator_value}")]
    return [field_problem(path, "invalid_value", f"Does not satisfy the schema rule '{keyword}'")]


def check_secret_against(value: dict[str, Any], schema: dict[str, Any], path: list[Any]) -> None:
    """Validate a secret value against a JSON Schema; 400 invalid_data naming failing paths."""
    validator = Draft202012Validator(schema)
    problems: list[dict[str, Any]] = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
        problems += _schema_problem(error, list(path))
    if problems:
        raise invalid_data(problems)


def normalized_schema(schema: Any) -> Any:
    """provider-utils normalizeJsonSchema: an object schema without properties is no schema."""
    if not schema or (isinstance(schema, dict) and schema.get("type") == "object" and not schema.get("properties")):
        return None
    return schema
