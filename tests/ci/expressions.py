"""GitHub Actions expressions, the subset the recipes and action.yml use: context paths with
`.name` and `[expr]` (names may hold `-`), 'strings', numbers, true/false/null, `!`, `==`, `!=`,
`&&`, `||`, parentheses, and fromJSON / toJSON / always / success / failure / contains /
startsWith. Anything else raises, so a recipe that outgrows this evaluator fails loudly."""

from __future__ import annotations

import json
import re
from typing import Any

TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||[!()\[\].,])"
                   r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))")
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def tokens(text: str) -> list[tuple[str, str]]:
    out, at = [], 0
    while at < len(text.rstrip()):
        match = TOKEN.match(text, at)
        if match is None:
            raise ValueError(f"unsupported expression at {text[at:]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        at = match.end()
    return out


def loose(value: Any) -> str:
    """GitHub compares values of different types loosely; as strings is enough here."""
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "")


class Parser:
    def __init__(self, text: str, context: dict[str, Any]) -> None:
        self.items, self.at, self.context = tokens(text), 0, context

    def peek(self) -> str:
        return self.items[self.at][1] if self.at < len(self.items) else ""

    def take(self, expected: str | None = None) -> tuple[str, str]:
        item = self.items[self.at]
        if expected is not None and item[1] != expected:
            raise ValueError(f"expected {expected!r}, got {item[1]!r}")
        self.at += 1
        return item

    def parse(self) -> Any:
        value = self.disjunction()
        if self.at != len(self.items):
            raise ValueError(f"trailing {self.items[self.at:]}")
        return value

    def disjunction(self) -> Any:
        value = self.conjunction()
        while self.peek() == "||":
            self.take()
            right = self.conjunction()
            value = value if truthy(value) else right
        return value

    def conjunction(self) -> Any:
        value = self.comparison()
        while self.peek() == "&&":
            self.take()
            right = self.comparison()
            value = right if truthy(value) else value
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in ("==", "!="):
            op, right = self.take()[1], self.unary()
            value = (loose(value).lower() == loose(right).lower()) == (op == "==")
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, text = self.take()
        if text == "(":
            value = self.disjunction()
            self.take(")")
            return value
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind != "name":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        return self.call(text) if self.peek() == "(" else self.context.get(text)

    def postfix(self, value: Any) -> Any:
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                key = self.take()[1]
            else:
                key = loose(self.disjunction())
                self.take("]")
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def call(self, name: str) -> Any:
        self.take("(")
        args = []
        while self.peek() != ")":
            args.append(self.disjunction())
            if self.peek() == ",":
                self.take()
        self.take(")")
        return FUNCTIONS[name](self.context, *args)


FUNCTIONS = {
    "fromJSON": lambda ctx, text: json.loads(text),
    "toJSON": lambda ctx, value: json.dumps(value),
    "always": lambda ctx: True,
    "success": lambda ctx: not ctx.get("_failed", False),
    "failure": lambda ctx: ctx.get("_failed", False),
    "contains": lambda ctx, hay, needle: loose(needle).lower() in (
        [loose(x).lower() for x in hay] if isinstance(hay, list) else loose(hay).lower()),
    "startsWith": lambda ctx, text, prefix: loose(text).lower().startswith(loose(prefix).lower()),
}


def evaluate(expr: str, context: dict[str, Any]) -> Any:
    """An `if:` (with or without `${{ }}`) or the inside of one `${{ }}`."""
    inner = EXPRESSION.fullmatch(expr.strip())
    return Parser(inner.group(1) if inner else expr, context).parse()


def render(value: Any, context: dict[str, Any]) -> Any:
    """A value with `${{ }}` in it: the one expression's value if that is all it is (fromJSON's
    object stays an object), else the string with each replaced."""
    if not isinstance(value, str):
        return value
    whole = EXPRESSION.fullmatch(value.strip())
    if whole:
        return Parser(whole.group(1), context).parse()
    return EXPRESSION.sub(lambda m: loose(Parser(m.group(1), context).parse()), value)
