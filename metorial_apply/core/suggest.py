"""'Did you mean' hints: the closest known word to a mistyped one (difflib's ratio)."""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' hint, or None when nothing is close."""
    close = get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"?' if close else None


def unknown_addresses(option: str, unknown: Iterable[str], known: Iterable[str]) -> str:
    """`--target names no resource …: x` with a hint for each name close to a known address."""
    choices = sorted(set(known))
    named = [f"{a} ({hint})" if (hint := did_you_mean(a, choices)) else a for a in unknown]
    return f"{option} names no resource in config or live state: {', '.join(named)}"
