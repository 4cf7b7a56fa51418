"""Pydantic validation errors → Diagnostics positioned at the YAML that caused them.

Pydantic locations mix data keys with union branch tags ("str", "ToolRule"); walking the
location against the data separates the two, so every error points at a real YAML node and
a failed union reports the branch the user meant instead of one error per branch.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from metorial_apply.config.sections import Entry, did_you_mean
from metorial_apply.config.yamlsource import YamlPath, diagnostic
from metorial_apply.core.errors import Diagnostic

TYPE_WORDS = {
    "string_type": "a string", "bool_type": "true or false", "bool_parsing": "true or false",
    "int_type": "a whole number", "int_parsing": "a whole number", "float_type": "a number",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "list_type": "a list",
}


def describe(value: Any) -> str:
    """The JSON type of a value in words (never the value itself)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {dict: "a mapping", list: "a list", str: "a string"}.get(type(value), "a value")


@dataclass(frozen=True)
class Located:
    """One pydantic error with its location split into a data path and union branch tags."""

    path: YamlPath  # relative to the resource
    branch: tuple[str, ...]  # union tags met on the way, e.g. ("ToolRule",)
    union_at: YamlPath | None  # data path where the first union tag was met
    type: str
    message: str
    loc: tuple[Any, ...]


def locate(error: dict[str, Any], data: Any) -> Located:
    path: list[str | int] = []
    branch: list[str] = []
    union_at: YamlPath | None = None
    current = data
    loc = tuple(error["loc"])
    for i, part in enumerate(loc):
        missing_field = i == len(loc) - 1 and error["type"] == "missing"
        if isinstance(current, dict) and isinstance(part, str) and (part in current or missing_field):
            path.append(part)
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
        else:
            union_at = union_at if union_at is not None else tuple(path)
            branch.append(str(part))
    return Located(tuple(path), tuple(branch), union_at, error["type"], error["msg"], loc)


def _drop_mistyped_branches(found: list[Located]) -> list[Located]:
    """Where a union failed, keep the branches that failed for a reason other than their type."""
    by_union: dict[YamlPath, list[Located]] = {}
    for item in found:
        if item.union_at is not None:
            by_union.setdefault(item.union_at, []).append(item)
    keep = [item for item in found if item.union_at is None]
    for union_at, items in by_union.items():
        meaningful = [i for i in items if i.type not in TYPE_WORDS]
        if meaningful:
            keep += meaningful
        else:
            words = sorted({TYPE_WORDS[i.type] for i in items})
            keep.append(Located(union_at, (), None, "union_type", " or ".join(words), items[0].loc))
    return keep


def _value_at(data: Any, path: YamlPath) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else data[part] if isinstance(data, list) else None
    return data


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed where `loc` points, found by walking the model's annotations."""
    current: list[Any] = [model]
    for part in loc:
        current = [t for c in current for t in _expand(c)]
        nxt: list[Any] = []
        for c in current:
            if isinstance(c, type) and issubclass(c, BaseModel) and part in c.model_fields:
                nxt.append(c.model_fields[part].annotation)
            elif isinstance(part, int) and typing.get_origin(c) is list:
                nxt += list(typing.get_args(c))
            elif isinstance(c, type) and c.__name__ == part:
                nxt.append(c)
        current = nxt or current
    current = [t for c in current for t in _expand(c)]
    return sorted({f for c in current if isinstance(c, type) and issubclass(c, BaseModel) for f in c.model_fields})


def _expand(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [t for a in typing.get_args(annotation) for t in _expand(a)]
    return [annotation]


def _message(item: Located, entry: Entry, data: Any) -> tuple[str, str | None]:
    if item.type == "missing":
        return f'missing required field "{item.path[-1]}"', None
    if item.type == "extra_forbidden":
        allowed = list(_fields_at(entry.kind.model, item.loc[:-1]))
        return f'unknown field "{item.path[-1]}"', did_you_mean(str(item.path[-1]), allowed) or (
            "allowed fields: " + ", ".join(allowed) if allowed else None)
    got = describe(_value_at(data, item.path))
    if item.type == "union_type":
        return f"expected {item.message}, got {got}", None
    if item.type in TYPE_WORDS:
        quote = (
            "quote the value to make it a string"
            if item.type == "string_type" and got in ("a number", "a boolean")
            else None
        )
        return f"expected {TYPE_WORDS[item.type]}, got {got}", quote
    if item.type == "value_error":
        return item.message.removeprefix("Value error, "), None
    if item.type == "string_too_short" and item.message.endswith("at least 1 character"):
        return "must not be empty (the API rejects an empty string)", None
    return item.message, None


def validation_diagnostics(exc: ValidationError, entry: Entry, data: Any,
                           skip: frozenset[YamlPath] = frozenset()) -> list[Diagnostic]:
    """Every error of validating `data` (the interpolated entry) as a positioned Diagnostic.

    Errors at or under a path in `skip` (already reported, e.g. a failed `${…}`) are left out.
    """
    doc = entry.source.doc
    out = []
    for item in _drop_mistyped_branches([locate(e, data) for e in exc.errors(include_input=False)]):
        if any(item.path[:len(p)] == p for p in skip):
            continue
        message, hint = _message(item, entry, data)
        full = entry.path + item.path
        if item.type in ("missing", "extra_forbidden"):
            parent = full[:-1]
            pos = doc.key_pos(full) if item.type == "extra_forbidden" else doc.key_pos(parent)
            out.append(diagnostic(pos, parent, message, hint))
        else:
            out.append(diagnostic(doc.key_pos(full) if not item.path else doc.value_pos(full), full, message, hint))
    return out
