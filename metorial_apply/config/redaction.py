"""The last guard on diagnostics: no secret value in a message, path or hint."""

from __future__ import annotations

from collections.abc import Sequence

from metorial_apply.core.errors import Diagnostic

MIN_REDACT = 4  # shorter secrets would garble every message; none is ever put in one on purpose


def redact(problems: list[Diagnostic], secrets: Sequence[str]) -> list[Diagnostic]:
    """Last guard: replace any secret that made it into a message or hint."""
    words = sorted({s for s in secrets if len(s) >= MIN_REDACT}, key=len, reverse=True)

    def clean(text: str | None) -> str | None:
        for word in words if text else ():
            text = text.replace(word, "***")  # type: ignore[union-attr]
        return text

    return [
        Diagnostic(clean(d.message) or "", d.file, d.line, d.column, clean(d.path), clean(d.hint)) for d in problems
    ]
