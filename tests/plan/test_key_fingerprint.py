"""A key's fingerprint in a saved plan covers its name, generation and identity only (never its
secret, nor what only a listing knows: creation time, Metal's id, last four), and a stale saved
plan's refusal names the generation that moved and how. Pure."""

from __future__ import annotations

import json

import pytest

from metorial_apply.core.errors import StalePlanError
from metorial_apply.core.keys import LiveKey
from metorial_apply.core.state import State
from metorial_apply.planning.plan import build_plan
from metorial_apply.planning.recorded import key_fingerprints, key_moved
from metorial_apply.planning.saved import check_stale

from .test_keybind import KEY, states


def test_the_key_fingerprint_is_name_generation_and_identity_only() -> None:
    other = KEY.model_copy(update={"id": "k-other", "created": "2020-01-01T00:00:00Z", "last_four": "abcd"})
    state = State.of("prod", [], keys=(KEY,))
    assert key_fingerprints(state) == key_fingerprints(state.model_copy(update={"keys": (other,)}))
    assert json.loads(key_fingerprints(state)["api_key.sync"]) == [["sync", 1, "ci_one"]]
    moved = state.model_copy(update={"keys": (KEY.model_copy(update={"identity": "ci_two"}),)})
    assert key_fingerprints(moved) != key_fingerprints(state)
    foreign = LiveKey(backend="metal", name="staging~sync~1", identity="ci_x", id="x")
    assert key_fingerprints(state.model_copy(update={"keys": (KEY, foreign)})) == key_fingerprints(state)


def test_a_stale_key_names_the_generation_and_what_moved() -> None:
    then = '[["sync",1,"ci_one"],["sync",2,"ci_two"]]'
    assert key_moved("api_key.sync", then, '[["sync",2,"ci_two"]]') == \
        "api_key.sync (generation 1 (identity ci_one) is gone from its key backend)"
    assert key_moved("api_key.sync", then, '[["sync",1,"ci_one"],["sync",2,"ci_new"]]') == \
        "api_key.sync (generation 2's identity is now ci_new (the plan read ci_two))"
    assert key_moved("api_key.sync", None, '[["sync",1,"ci_one"]]') == \
        "api_key.sync (generation 1 appeared on its key backend (identity ci_one))"
    assert key_moved("api_key.sync", "sha256:0123", '[["sync",1,"ci_one"]]') == "api_key.sync (changed)"
    assert "…" in key_moved("api_key.sync", None, json.dumps([["sync", 1, "x" * 500]]))


def test_a_saved_plan_is_stale_once_its_key_is_deleted_at_the_backend() -> None:
    wanted, have = states()
    saved = build_plan(wanted, have)
    check_stale(saved, have)
    with pytest.raises(StalePlanError, match=r"api_key\.sync \(generation 1 \(identity ci_one\) is gone"):
        check_stale(saved, have.model_copy(update={"keys": ()}))
