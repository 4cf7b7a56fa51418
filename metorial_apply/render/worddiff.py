"""Diffs of one long value for a person: the words that changed in a string, the items added and
removed in a list. Pure; difflib does the matching. Unchanged text far from a change is elided
(`…`); a changed word is never dropped, so a reviewer always sees what the plan will send."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from typing import Any, Literal, NamedTuple

from metorial_apply.render.values import Shape, compact, rule_parts

Op = Literal["equal", "delete", "insert"]
WORD = re.compile(r"\S+\s*|\s+")
CONTEXT_WORDS = 5  # unchanged words kept on each side of a change
ELIDED = "… "


def _elide(words: list[str], first: bool, last: bool) -> str:
    """An unchanged run: whole when short, else only the words next to a change."""
    head = [] if first else words[:CONTEXT_WORDS]
    tail = [] if last else words[-CONTEXT_WORDS:]
    if len(words) <= len(head) + len(tail) + 1:
        return "".join(words)
    return "".join(head) + ELIDED + "".join(tail)


def word_diff(before: str, after: str) -> list[tuple[Op, str]]:
    """`before` → `after` as (op, text) segments: every deleted and inserted word, with context."""
    a, b = WORD.findall(before), WORD.findall(after)
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    out: list[tuple[Op, str]] = []
    for n, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            out.append(("equal", _elide(a[i1:i2], n == 0, n == len(ops) - 1)))
            continue
        if i2 > i1:
            out.append(("delete", "".join(a[i1:i2]).rstrip()))
        if j2 > j1:
            out.append(("insert", "".join(b[j1:j2]).rstrip()))
        if (i2 > i1 and a[i2 - 1] != a[i2 - 1].rstrip()) or (j2 > j1 and b[j2 - 1] != b[j2 - 1].rstrip()):
            out.append(("equal", " "))  # the space the change ended with
    return out


def marked(segments: list[tuple[Op, str]]) -> str:
    """Segments as one line: `[-removed-]{+added+}` (git's word-diff markers)."""
    return "".join(t if op == "equal" else f"[-{t}-]" if op == "delete" else f"{{+{t}+}}" for op, t in segments)


def list_diff(before: list[str], after: list[str]) -> tuple[list[str], list[str]]:
    """(removed, added) items, each in its own list's order; duplicates counted."""
    have, want = Counter(before), Counter(after)
    removed, added = have - want, want - have
    return _take(before, removed), _take(after, added)


def _take(items: list[str], counts: Counter[str]) -> list[str]:
    left, out = Counter(counts), []
    for item in items:
        if left[item] > 0:
            out.append(item)
            left[item] -= 1
    return out


class LongChange(NamedTuple):
    """How a change too long for one line is shown: word segments (strings) or items (lists)."""

    words: list[tuple[Op, str]]
    removed: list[str]
    added: list[str]


def _items(value: Any, shape: Shape) -> list[str] | None:
    if not isinstance(value, list):
        return None
    if shape == "tools":
        return [part for rule in value for part in rule_parts(rule)]
    return [compact(v) for v in value] if shape == "plain" else None


def long_change(before: Any, after: Any, shape: Shape, width: int) -> LongChange | None:
    """A word diff or an item diff when `before → after` would be cut at `width`, else None."""
    if len(compact(before)) <= width and len(compact(after)) <= width:
        return None
    if shape == "plain" and isinstance(before, str) and isinstance(after, str):
        return LongChange(word_diff(before, after), [], [])
    old, new = _items(before, shape), _items(after, shape)
    if old is None or new is None:
        return None
    removed, added = list_diff(old, new)
    return LongChange([], removed, added) if removed or added else None
