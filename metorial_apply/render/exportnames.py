"""Names for `export`: resource names (YAML keys) derived from live objects' names, and the
environment variable names of the `${env:…}` placeholders standing in for write-only values.

Both are deterministic (the same live objects always give the same names) and unique. A live
name is anything the dashboard accepted ("GitHub (prod) #2", "", names shared by several
objects); a YAML key must match core.model.NAME, so it is derived and the real name kept in
`name:`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from metorial_apply.core.model import NAME

MAX_NAME = 90  # NAME allows 100; the rest leaves room for a "-N" suffix
_NOT_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_NOT_ENV = re.compile(r"[^A-Z0-9]+")
ENV_PREFIX = "METORIAL"


def base_name(live_name: str | None, fallback: str) -> str:
    """A valid resource name close to `live_name`: lower case, runs of other characters as "-",
    leading punctuation dropped; `fallback` (the kind) when nothing is left."""
    text = _NOT_NAME.sub("-", (live_name or "").strip().lower()).strip("-.")
    text = text[:MAX_NAME].rstrip("-.")
    return text if text and NAME.fullmatch(text) else fallback


def unique_names(items: Iterable[tuple[str, str]], taken: Iterable[str] = ()) -> dict[str, str]:
    """(id, base name) pairs, already in their deterministic order → id → unique name. The first
    of a base keeps it; later ones get "-2", "-3", … (skipping any name already used)."""
    used = set(taken)
    out: dict[str, str] = {}
    for ident, base in items:
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        out[ident] = name
    return out


def env_word(text: str) -> str:
    return _NOT_ENV.sub("_", text.upper()).strip("_")


class EnvNames:
    """Hands out placeholder variable names: METORIAL_<KIND>_<NAME>_<FIELD>[_<KEY>], upper case,
    other characters as "_"; a name already given gets "_2", "_3", … (order of asking)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def new(self, *words: str) -> str:
        base = "_".join(w for w in (env_word(x) for x in (ENV_PREFIX, *words)) if w)
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name
