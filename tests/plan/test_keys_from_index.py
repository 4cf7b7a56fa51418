"""Api keys planned from the stack index (plan without the backends' credentials) against the same
keys listed by their backend: one plan, but for a note on each key planned from the index; the key
fingerprint is the same from both, so a saved plan made from the index is checked against the
backend like any other. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from metorial_apply.api.live import indexed_keys
from metorial_apply.apply.ledger import indexed
from metorial_apply.core.errors import StalePlanError
from metorial_apply.core.index import Index, IndexedKey
from metorial_apply.core.keys import DesiredKey
from metorial_apply.core.state import State
from metorial_apply.planning.plan import Action, Plan, build_plan
from metorial_apply.planning.recorded import NO_CREATED, NOT_READ, UNLISTED
from metorial_apply.planning.saved import check_stale, plan_to_dict

from .test_keybind import KEY, states

NOW = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
NOTE = NOT_READ.format(backends="key_backends.metal")


def from_index(live: State, keys: tuple[IndexedKey, ...] | None = None) -> State:
    """`live` as plan reads it without the Metal backend's credentials: our keys from the index."""
    recorded = keys if keys is not None else tuple(indexed(k) for k in live.keys or ())
    index = Index(stack="prod", generation=3, keys=recorded)
    return live.model_copy(update={"keys": indexed_keys(index, frozenset({"metal"})),
                                   "unread_backends": frozenset({"metal"})})


def both(rotate_after_days: int | None = None, rotate: tuple[str, ...] = (), **kw: object) -> tuple[Plan, Plan]:
    wanted, have = states()
    age = rotate_after_days * 86400 if rotate_after_days else None
    key = DesiredKey(name="sync", backend="metal", rotate_after_s=age)
    wanted = wanted.model_copy(update={"api_keys": (key,)})
    return (build_plan(wanted, have, rotate=rotate, now=NOW),
            build_plan(wanted, from_index(have, **kw), rotate=rotate, now=NOW))  # type: ignore[arg-type]


def same_but_notes(listed: Plan, recorded: Plan) -> None:
    """The saved form (notes are not saved; what a key's delete takes, its id, is never in it)."""
    assert plan_to_dict(recorded) == plan_to_dict(listed)
    assert [n for n in recorded.notes if not n.text.startswith(NOT_READ.split(":")[0])] == list(listed.notes)


@pytest.mark.parametrize(("rotate_after_days", "rotate", "action"), [
    (None, (), Action.NOOP), (None, ("sync",), Action.ROTATE), (90, (), Action.ROTATE), (365, (), Action.NOOP)])
def test_a_plan_from_the_index_equals_the_plan_from_the_backend(rotate_after_days: int | None,
                                                                rotate: tuple[str, ...], action: Action) -> None:
    listed, recorded = both(rotate_after_days, rotate)
    assert {str(c.address): c.action for c in listed.changes}["api_key.sync"] is action
    same_but_notes(listed, recorded)
    assert [(str(n.address), n.text) for n in recorded.notes] == [("api_key.sync", NOTE)]


def test_an_index_entry_without_a_creation_time_says_rotate_after_was_not_checked() -> None:
    _, recorded = both(90, keys=(IndexedKey(name=KEY.name, backend="metal", identity=KEY.identity),))
    assert [n.text for n in recorded.notes] == [NOTE + NO_CREATED]
    assert {str(c.address): c.action for c in recorded.changes}["api_key.sync"] is Action.NOOP


def test_a_generation_consumers_hold_that_the_index_lacks_is_noted() -> None:
    """An index that never recorded the key (rebuilt, or from before keys were recorded)."""
    _, recorded = both(keys=())
    assert [n.text for n in recorded.notes] == [NOTE + UNLISTED]


def test_no_note_when_every_backend_was_read() -> None:
    listed, _ = both()
    assert listed.notes == ()


def test_a_plan_from_the_index_is_stale_once_its_key_is_deleted_at_the_backend() -> None:
    wanted, have = states()
    saved = build_plan(wanted, from_index(have))
    check_stale(saved, have)  # nothing moved: the backend lists what the index said
    with pytest.raises(StalePlanError, match=r"api_key\.sync \(generation 1 \(identity ci_one\) is gone"):
        check_stale(saved, have.model_copy(update={"keys": ()}))
