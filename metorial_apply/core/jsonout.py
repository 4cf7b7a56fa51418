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

# What a terminal acts on beyond C0: DEL and C1 controls; the bidi marks, embeddings, overrides and
# isolates; the Unicode line and paragraph separators (which some terminals and editors break lines at).
_BEYOND_C0 = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
# In text every one of them, C0 included, is escaped (core/inert.py).
TERMINAL = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
# In JSON text json.dumps escapes C0 itself (and the newlines left are its own indentation); outside
# strings it is ASCII, so every match is inside a string, where \uXXXX is valid.
UNSAFE = re.compile(f"[{_BEYOND_C0}]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def dumps(value: Any, **options: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, **options)` with the unsafe characters escaped."""
    return UNSAFE.sub(_escape, json.dumps(value, ensure_ascii=False, **options))
