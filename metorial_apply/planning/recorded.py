"""Api keys planned from the stack index instead of their backend's list (plan without the
backend's credentials): the note that marks each, and the key fingerprint a saved plan keeps. Pure.

The index records, per key of ours, its full name, backend, identity, creation time and Metlo
type: all a plan reads of a key, so a plan made from it equals one made by listing the backend
while nothing drifted. What it cannot know is what happened on the backend since the last apply,
hence the note; `apply` lists every backend, and a saved plan whose keys moved is refused.
A key's fingerprint is its generations of ours as (name, generation, identity): the same from
the index as from a listing, never a secret, and readable, so a refusal says what moved.
"""

from __future__ import annotations

import json
from typing import Any

from metorial_apply.core.keys import LiveKey, key_address, parse_key_name
from metorial_apply.core.state import State
from metorial_apply.planning.action import Note

NOT_READ = "not read from the backend: planned from the stack index's record ({backends} is read by apply)"
NO_CREATED = "; rotate_after not checked (the index records no creation time for it yet)"
UNLISTED = ("; a consumer holds a generation the index does not list: plan with the backend's credentials to "
            "see it")
MAX_IDENTITY = 60  # characters of an identity quoted in a refusal


def index_note(name: str, backend: str | None, keys: list[LiveKey], held: frozenset[str], unread: frozenset[str],
               rotates: bool) -> Note | None:
    """The note on key `name` when a backend it is planned on was not read (`keys`: its generations
    of ours as the plan read them; `held`: the identities its consumers record)."""
    backends = sorted(({backend} if backend else set()) | {k.backend for k in keys})
    missed = [b for b in backends if b in unread]
    if not missed:
        return None
    text = NOT_READ.format(backends=", ".join(f"key_backends.{b}" for b in missed))
    if rotates and any(k.created is None for k in keys):
        text += NO_CREATED
    if held - {k.identity for k in keys}:
        text += UNLISTED
    return Note(address=key_address(name), text=text)


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
