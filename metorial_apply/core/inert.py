"""Make text from the API or a stamp inert before a person sees it. Pure.

Any key of the organization can write names, descriptions and metadata, and a server writes
error codes and messages; printed raw, an ESC sequence clears a terminal or forges a line in
a CI log, an OSC 8 sequence hides a link, and a bidi override reorders what a reviewer reads.
`inert` escapes every such character visibly (`\\x1b`, `\\n`, `\\u202e`), so one field stays on
one line; `md_inert` also keeps Markdown from pinging people or linking issues. Text, Markdown,
CI progress lines and error messages all go through here.
"""

from __future__ import annotations

import re

from metorial_apply.core.jsonout import TERMINAL

CONTROL = TERMINAL  # what a terminal acts on: one definition for text and JSON (core/jsonout.py)
NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
WORD_JOINER = "\u2060"  # invisible; GitHub forms no @mention or #123 link across it
MENTION = re.compile(r"@(?=[\w-])")
ISSUE_REF = re.compile(r"#(?=\d)")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in NAMED:
        return NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def inert(text: str) -> str:
    """`text` with every control, bidi and line-separator character escaped, on one line."""
    return CONTROL.sub(_escape, text)


def md_inert(text: str) -> str:
    """`inert`, and no `@mention` or `#123` reference: a word joiner after `@` and `#`, which
    GitHub renders invisibly and does not link (HTML, tables and formatting are the caller's)."""
    return ISSUE_REF.sub("#" + WORD_JOINER, MENTION.sub("@" + WORD_JOINER, inert(text)))
