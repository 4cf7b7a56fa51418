"""The key fingerprint a saved plan keeps, and what a refusal says when it moved. Pure.

A key's fingerprint is its generations of ours as (name, generation, identity): the same from
the index as from a listing, never a secret, and readable, so a refusal says what moved.
"""

from __future__ import annotations

import json
from typing import Any

from metorial_apply.core.keys import key_address, parse_key_name
from metorial_apply.core.state import State

MAX_IDENTITY = 60  # characters of an identity quoted in a refusal


def key_fingerprints(live: State) -> dict[str, str]:
    """`api_key.NAME` → JSON of its generations of ours, `[[name, generation, identity], …]` sorted."""
    rows: dict[str, list[tuple[str, int, str]]] = {}
    for key in live.keys or ():
        parsed = parse_key_name(key.name, live.stack)
        if parsed is not None:
            rows.setdefault(str(key_address(parsed.name)), []).append((parsed.name, parsed.generation, key.identity))
    return {a: json.dumps(sorted(r), separators=(",", ":"), ensure_ascii=False) for a, r in rows.items()}


def _generations(fingerprint: str | None) -> dict[int, str] | None:
    """Generation → identity from a key fingerprint; None for one of another format (an older plan)."""
    try:
        rows: Any = json.loads(fingerprint) if fingerprint else []
        return {int(g): str(i) for _, g, i in rows}
    except (ValueError, TypeError):
        return None


def _short(identity: str) -> str:
    return identity if len(identity) <= MAX_IDENTITY else identity[:MAX_IDENTITY - 1] + "…"  # a server's text


def key_moved(address: str, then: str | None, now: str | None) -> str:
    """What a stale saved plan's refusal says of one key: each generation gone, changed or new."""
    old, new = _generations(then), _generations(now)
    if old is None or new is None:
        return f"{address} (changed)"
    before, after = {g: _short(i) for g, i in old.items()}, {g: _short(i) for g, i in new.items()}
    parts = [f"generation {g} (identity {i}) is gone from its key backend" for g, i in sorted(before.items())
             if g not in after]
    parts += [f"generation {g}'s identity is now {after[g]} (the plan read {i})" for g, i in sorted(before.items())
              if g in after and after[g] != i]
    parts += [f"generation {g} appeared on its key backend (identity {i})" for g, i in sorted(after.items())
              if g not in before]
    return f"{address} ({'; '.join(parts) or 'changed'})"
