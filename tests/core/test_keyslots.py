"""Key slots in a consumer's write-only value: found, filled at apply time, bound for fingerprints."""

from __future__ import annotations

import pytest

from metorial_apply.core.keys import CreatedKey, LiveKey, bind, fill, keys_in, slot, slots_in
from metorial_apply.core.model import SecretValue

VALUE = SecretValue({"client_id": slot("sync", "client_id"), "api_key": slot("sync", "secret"),
                     "nested": [f"Bearer {slot('ingest', 'secret')}", 3, None], "url": "https://x"})


def test_slots_name_every_key_and_part_a_value_holds() -> None:
    assert slots_in(VALUE) == {("sync", "client_id"), ("sync", "secret"), ("ingest", "secret")}
    assert keys_in(VALUE) == {"sync", "ingest"}
    assert keys_in(None) == frozenset() and keys_in(SecretValue({"a": "${key.x.secret}"})) == frozenset()


def test_fill_puts_the_created_secrets_in_and_refuses_a_missing_key() -> None:
    sync = CreatedKey(key=LiveKey(backend="metal", name="s~sync~1", identity="ci_1", id="abc"),
                      secret=SecretValue("pk_secret"))
    ingest = CreatedKey(key=LiveKey(backend="metlo", name="s~ingest~1", identity="metlo.x", id="s~ingest~1"),
                        secret=SecretValue("metlo_secret"))
    filled = fill(VALUE, {"sync": sync.parts(), "ingest": ingest.parts()}).reveal()
    assert filled == {"client_id": "ci_1", "api_key": "pk_secret", "nested": ["Bearer metlo_secret", 3, None],
                      "url": "https://x"}
    with pytest.raises(KeyError):
        fill(VALUE, {"sync": sync.parts()})
    assert "pk_secret" not in repr(sync) and "pk_secret" not in str(sync.model_dump())


def test_bind_uses_identities_only_and_changes_with_a_new_generation() -> None:
    one = bind(VALUE, {"sync": "ci_1", "ingest": "metlo.x"})
    assert one == bind(VALUE, {"sync": "ci_1", "ingest": "metlo.x"})
    assert one != bind(VALUE, {"sync": "ci_2", "ingest": "metlo.x"})
    assert one.reveal()["api_key"] == "key:sync@ci_1.secret"


def test_the_held_record_round_trips_and_refuses_malformed_text() -> None:
    from metorial_apply.core.model import held_text, parse_held

    held = {"sync": "ci_abc", "ingest": "metlo.x1"}
    assert held_text(held) == "ingest=metlo.x1,sync=ci_abc"
    assert parse_held(held_text(held)) == held
    assert parse_held("") == {} and parse_held(None) is None
    for bad in ("ingest", "ingest=a b", "=x", "a=b,,c"):
        assert parse_held(bad) is None, bad
