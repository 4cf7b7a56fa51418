"""How one value reads to a person: compact, JSON-ish, tool rules and template providers shown
the way users write them in YAML, long values cut. Pure; shared by the text and Markdown renderers.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from metorial_apply.core.inert import inert
from metorial_apply.core.kinds import KINDS
from metorial_apply.core.specs import RULE_FIELDS, RULE_TYPES

Shape = Literal["plain", "tools", "children", "child"]

SECRET = "(secret)"
SECRET_CHANGED = "(secret changed)"
# A secret's marker by FieldLine.secret: a key of a secret value added or removed shows no value either.
SECRET_MARKS = {"changed": SECRET_CHANGED, "added": "(added)", "removed": "(removed)"}
NONE = "(none)"
ALL_TOOLS = "(all)"
ELLIPSIS = "…"

# Canonical spec names that users write differently in YAML (plans mostly speak YAML already).
DISPLAY_NAMES = {"tool_filters": "tools"}
TOOL_FIELDS = frozenset({"tool_filters", "tools"})
BARE = re.compile(r"^[\w./:@+-]+$")
NUMBER = re.compile(r"^[-+]?[\d.]+([eE][-+]?\d+)?$")
LITERALS = frozenset({"true", "false", "null", "none", "yes", "no", "on", "off", "~"})


def display_field(path: str) -> str:
    """A field path as users know it from YAML (`providers[github].tool_filters` → `providers[github].tools`)."""
    return re.sub(r"[A-Za-z_]+", lambda m: DISPLAY_NAMES.get(m.group(0), m.group(0)), path)


def shape_of(kind: str, path: str) -> Shape:
    """How the value at `path` of a `kind` spec should be read; per-kind facts come from the registry."""
    last = path.rsplit(".", 1)[-1]
    if last in TOOL_FIELDS:
        return "tools"
    children = KINDS[kind].children if kind in KINDS else None
    if children and path == children.field:
        return "children"
    if children and re.fullmatch(rf"{re.escape(children.field)}\[[^\]]*\]", path):
        return "child"
    return "plain"


def cut(text: str, width: int) -> str:
    """Shorten to at most `width` characters, marking the cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + ELLIPSIS


def format_value(value: Any, shape: Shape = "plain", *, quote: bool = True, width: int | None = 72,
                 kind: str = "") -> str:
    """One value on one line, inert. `quote` (text output) quotes strings that would be ambiguous
    bare (`"GitHub tools"`, `"true"`) and brackets lists; Markdown passes False and escapes the
    result itself. `width` None: never cut (the text plan wraps instead)."""
    if value is None:
        return ALL_TOOLS if shape == "tools" else NONE
    if shape == "tools":
        text = tools_text(value, brackets=quote)
    elif shape == "children":
        text = ", ".join(child_text(item, kind) for item in value) if value else NONE
    elif shape == "child":
        text = child_text(value, kind)
    elif isinstance(value, str):
        text = compact(value) if quote else one_line(value)
    else:
        text = compact(value)
    return cut(inert(text), width) if width is not None else inert(text)


def one_line(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "⏎ ").replace("\t", " ")


def compact(value: Any) -> str:
    """Lists as `[a, b]`, objects as `{k: v}`, strings bare when unambiguous."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{compact_key(k)}: {compact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(compact(v) for v in value) + "]"
    if isinstance(value, str):
        return value if is_bare(value) else json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    return json.dumps(value) if isinstance(value, (bool, int, float)) else str(value)


def is_bare(text: str) -> bool:
    """A string that reads unambiguously without quotes: a name, slug or key, not a literal."""
    if text in (SECRET, SECRET_CHANGED):  # redaction markers read as markers, not as strings
        return True
    return bool(BARE.match(text)) and text not in LITERALS and not NUMBER.match(text)


def compact_key(key: Any) -> str:
    text = str(key)
    return text if is_bare(text) else json.dumps(text, ensure_ascii=False)


def tools_text(rules: Any, *, brackets: bool = True) -> str:
    """Tool rules as YAML users write them: tool keys listed bare, other rules as `type arg`;
    no rules means every tool."""
    if not rules:
        return ALL_TOOLS
    if not isinstance(rules, list):
        return compact(rules)
    parts: list[str] = []
    for rule in rules:
        parts.extend(rule_parts(rule))
    inner = ", ".join(parts)
    return f"[{inner}]" if brackets else inner


def rule_parts(rule: Any) -> list[str]:
    """One rule in either form: YAML (`list_issues`, `{tool_regex: ^list_}`) or API (`{type, …}`)."""
    if isinstance(rule, str):
        return [compact(rule)]
    if isinstance(rule, dict) and len(rule) == 1 and next(iter(rule)) in RULE_TYPES:
        kind, arg = next(iter(rule.items()))
    elif isinstance(rule, dict) and rule.get("type") in RULE_FIELDS:
        kind, arg = rule["type"], rule.get(RULE_FIELDS[rule["type"]])
    else:
        return [compact(rule)]
    if kind == "tool_keys" and isinstance(arg, list):
        return [compact(k) for k in arg]
    return [f"{kind} {compact(arg)}"]


def child_text(item: Any, kind: str) -> str:
    """A sub-resource as `key (field value, …)`, e.g. `github (config github-prod)`."""
    children = KINDS[kind].children if kind in KINDS else None
    if isinstance(item, str):  # already a sentence, e.g. "config.github-prod (new)"
        return item
    if not isinstance(item, dict) or children is None:
        return compact(item)
    head = compact(item.get(children.key))
    extras = [f"{display_field(k)} {tools_text(v) if k in TOOL_FIELDS else compact(v)}"
              for k, v in item.items() if k != children.key and v not in (None, [], {}, "")]
    return f"{head} ({', '.join(extras)})" if extras else head
