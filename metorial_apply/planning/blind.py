"""`plan --no-secrets`: plan everything but what needs a secret value. Pure.

Secret values (write-only `value`s, credentials) and fields filled from `${env:}`/`${file:}`
are not compared: the desired side takes no secret and, where the object is live, the live value
of each such field, so neither shows as a change. A note names each resource left uncompared.
Such a plan is for review only (`plan` refuses `--out` with it): what it leaves out is exactly
what apply would have to send.
"""

from __future__ import annotations

from metorial_apply.core.model import Resource
from metorial_apply.core.state import State
from metorial_apply.planning.plan import Note

NOT_COMPARED = "not compared (--no-secrets)"


def _blind(r: Resource, live: Resource | None) -> Resource:
    spec = dict(r.spec)
    for name in r.sensitive:
        if live is not None and name in live.spec:
            spec[name] = live.spec[name]
    return r.model_copy(update={"secret": None, "spec": spec})


def without_secrets(desired: State, live: State) -> tuple[State, tuple[Note, ...]]:
    """`desired` with nothing secret to compare, and a note per resource that had something."""
    have = live.by_address()
    blinded, notes = [], []
    for r in desired:
        if r.secret is None and not r.sensitive:
            blinded.append(r)
            continue
        blinded.append(_blind(r, have.get(r.address)))
        what = ", ".join(sorted(r.sensitive | ({"secret value"} if r.secret is not None else set())))
        notes.append(Note(address=r.address, text=f"{what}: {NOT_COMPARED}"))
    return desired.with_resources(blinded), tuple(notes)
