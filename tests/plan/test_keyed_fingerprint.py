"""Keyed (hmac) secret fingerprints: the format, comparison across schemes, and the refusals
(no key, another key, a short key) that never guess and never show the key."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from metorial_apply.core import fingerprint
from metorial_apply.core.errors import PlanError, UsageError
from metorial_apply.core.fingerprint import FingerprintKey, keyed_fingerprint, matches, stamp_for
from metorial_apply.core.model import Resource, SecretValue
from metorial_apply.planning.plan import Action, build_plan
from tests.plan.factory import CANARY, SALT, STACK, desired, live, state

KEY_TEXT = "canary-fingerprint-key-0123456789abcdef"
KEY = FingerprintKey.parse(KEY_TEXT)
OTHER = FingerprintKey.parse("another-fingerprint-key-0123456789abcdef")


def config(token: str = CANARY, name: str = "x") -> Resource:
    return desired("config", name, {"deployment": "d", "value": {"token": token}})


def keyed_live(r: Resource, key: FingerprintKey = KEY) -> Resource:
    base = live(r)
    return base.model_copy(update={"stamp": stamp_for(r, STACK, SALT, key)})


def test_format_is_hmac_sha256_of_salt_then_canonical_secret() -> None:
    secret = SecretValue({"token": CANARY})
    key_id = hashlib.sha256(b"metorial-apply/key-id\0" + KEY_TEXT.encode()).hexdigest()[:8]
    digest = hmac.new(KEY_TEXT.encode(), bytes.fromhex(SALT) + secret.canonical(), hashlib.sha256).hexdigest()
    assert keyed_fingerprint(secret, SALT, KEY) == f"hmac-sha256:{key_id}:{digest}"
    assert KEY.key_id == key_id and OTHER.key_id != key_id


def test_the_key_is_redacted_everywhere_it_could_be_printed() -> None:
    for text in (repr(KEY), str(KEY), f"{KEY}", repr([KEY])):
        assert KEY_TEXT not in text and KEY.key_id in text


def test_a_short_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(UsageError) as err:
        FingerprintKey.parse("short-canary-key")
    assert "METORIAL_APPLY_FINGERPRINT_KEY" in str(err.value) and "short-canary-key" not in str(err.value)


def test_stamps_are_hmac_with_a_key_and_scrypt_without() -> None:
    r = config()
    assert (stamp_for(r, STACK, SALT, KEY).secret_fingerprint or "").startswith(f"hmac-sha256:{KEY.key_id}:")
    assert (stamp_for(r, STACK, SALT).secret_fingerprint or "").startswith("scrypt:")


def test_scrypt_stamps_compare_by_scrypt_with_or_without_a_key() -> None:
    r, scrypt_live = config(), live(config())
    assert matches(r.secret, scrypt_live.stamp, KEY) and matches(r.secret, scrypt_live.stamp)  # type: ignore[arg-type]
    assert not matches(config("other").secret, scrypt_live.stamp, KEY)  # type: ignore[arg-type]
    assert build_plan(state(r), state(scrypt_live), key=KEY).actionable() == ()


def test_hmac_stamps_compare_with_their_key() -> None:
    r = config()
    assert build_plan(state(r), state(keyed_live(r)), key=KEY).actionable() == ()
    (change,) = build_plan(state(config("rotated")), state(keyed_live(r)), key=KEY).changes
    assert change.action is Action.REPLACE and change.reason == "value changed (secret)"


def test_hmac_stamps_without_a_key_refuse_naming_every_resource() -> None:
    rs = [config(name="a"), config(name="b")]
    with pytest.raises(PlanError) as err:
        build_plan(state(*rs), state(*(keyed_live(r) for r in rs)))
    text = str(err.value)
    assert "config.a, config.b" in text and "METORIAL_APPLY_FINGERPRINT_KEY" in text and "no fingerprint key" in text


def test_hmac_stamps_with_another_key_refuse_naming_the_key_id_not_the_key() -> None:
    r = config()
    with pytest.raises(PlanError) as err:
        build_plan(state(r), state(keyed_live(r)), key=OTHER)
    text = str(err.value)
    assert "config.x" in text and OTHER.key_id in text and "METORIAL_APPLY_FINGERPRINT_KEY" in text
    assert KEY_TEXT not in text and "another-fingerprint-key" not in text
    with pytest.raises(PlanError):
        matches(r.secret, keyed_live(r).stamp)  # type: ignore[arg-type]


def test_malformed_hmac_fingerprint_never_matches_and_asks_for_no_key() -> None:
    r = config()
    base = keyed_live(r)
    assert base.stamp is not None
    broken = base.model_copy(update={"stamp": base.stamp.model_copy(update={"secret_fingerprint": "hmac-sha256:zz"})})
    (change,) = build_plan(state(r), state(broken)).changes
    assert change.action is Action.REPLACE


def test_warm_skips_hmac_stamps_even_without_a_key() -> None:
    rs = [config(name="a"), config(name="b")]
    fingerprint.warm([(r.secret, keyed_live(r).stamp) for r in rs], workers=2)  # type: ignore[misc]


def test_destroy_needs_no_key() -> None:
    r = config()
    (change,) = build_plan(state(), state(keyed_live(r))).changes
    assert change.action is Action.DELETE
