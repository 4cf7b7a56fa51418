"""`--replace ADDRESS`: a replace the user asks for, where nothing in the config forces one
(e.g. to re-create a resource whose secret fingerprint can no longer be compared). Pure.

The forced address goes through the same machinery as any replace (create new, repoint
dependents, delete old; dependents whose create-only ref points at it are replaced too;
`protect: true` refuses it). Its secret is not compared: the new object gets the value anyway.
An address only in config is a plain create (there is nothing to replace yet, and a pipeline
that always passes --replace must work on its first run); one only in live state would be
deleted, not re-created, so asking to replace it is an error.
"""

from __future__ import annotations

from collections.abc import Iterable

from metorial_apply.core.errors import PlanError
from metorial_apply.core.model import Address, Resource
from metorial_apply.core.suggest import unknown_addresses

REQUESTED = "replace requested (--replace)"
NOTHING_LIVE = "not in live state (--replace: nothing to replace yet, so it is created)"


def forced(requested: Iterable[Address], want: dict[Address, Resource], have: dict[Address, Resource]
           ) -> frozenset[Address]:
    """The requested addresses that exist on both sides; PlanError for one in neither or only live."""
    requested = tuple(requested)
    unknown = sorted(str(a) for a in requested if a not in want and a not in have)
    if unknown:
        raise PlanError(unknown_addresses("--replace", unknown, (str(a) for a in (*want, *have))))
    gone = sorted(str(a) for a in requested if a not in want)
    if gone:
        raise PlanError(f"--replace {', '.join(gone)}: not in the configuration, so the plan deletes it; nothing "
                        "to re-create (drop --replace, or put it back in the configuration)")
    return frozenset(a for a in requested if a in have)


def with_requested(natural: str) -> str:
    """A forced replace's reason: the request, then anything that forces one anyway."""
    return f"{REQUESTED}; {natural}" if natural else REQUESTED


def outside_targets(requested: Iterable[Address], kept: set[Address]) -> None:
    """A --replace left out by --target would silently do nothing: refuse it instead."""
    left = sorted(str(a) for a in requested if a not in kept)
    if left:
        raise PlanError(f"--replace {', '.join(left)} is outside the --target plan; add --target for it too")
