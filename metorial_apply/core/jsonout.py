"""JSON text that is inert when printed. Pure.

`json.dumps(..., ensure_ascii=False)` keeps UTF-8 readable but leaves C1 controls (U+0080-U+009F,
among them U+009B, a one-byte CSI), DEL, U+2028/U+2029 and bidi overrides raw, and many tools
print JSON fields straight to a terminal or a CI log. Those characters are written as `\\uXXXX`
escapes instead: the same JSON value, nothing any reader decodes differently, other UTF-8 kept.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Outside strings JSON text is ASCII, so every match is inside a string, where \uXXXX is valid.
UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def dumps(value: Any, **options: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, **options)` with the unsafe characters escaped."""
    return UNSAFE.sub(_escape, json.dumps(value, ensure_ascii=False, **options))
