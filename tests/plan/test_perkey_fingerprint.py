"""Per-key secret fingerprints (keyed mode): the stamp format, the diff lines that name the
changed top-level keys of a value (never a value), and the fallbacks to one whole-value line:
scrypt mode (with a hint), old stamps without per-key fingerprints, per-key ones of another key."""

from __future__ import annotations

import hashlib
import hmac
import json

from metorial_apply.core.fingerprint import FingerprintKey, changed_keys, key_fingerprints, stamp_for
from metorial_apply.core.model import Resource, SecretValue, Stamp
from metorial_apply.planning.action import FieldDiff
from metorial_apply.planning.diff import NAMING_NEEDS_KEY
from metorial_apply.planning.plan import Action, build_plan
from tests.plan.factory import CANARY, SALT, STACK, desired, live, state

KEY_TEXT = "canary-fingerprint-key-0123456789abcdef"
KEY = FingerprintKey.parse(KEY_TEXT)
OTHER = FingerprintKey.parse("another-fingerprint-key-0123456789abcdef")
SECRET = "(secret)"


def config(value: dict[str, str]) -> Resource:
    return desired("config", "x", {"deployment": "d", "value": value})


def keyed_live(r: Resource, key: FingerprintKey = KEY) -> Resource:
    return live(r).model_copy(update={"stamp": stamp_for(r, STACK, SALT, key)})


def secret_diffs(new: Resource, old: Resource) -> list[FieldDiff]:
    (change,) = build_plan(state(new), state(old), key=KEY).changes
    assert change.action is Action.REPLACE and CANARY not in change.model_dump_json()
    return [d for d in change.diffs if d.secret]


def test_stamp_keeps_one_sorted_keyed_fingerprint_per_top_level_key_binding_the_name() -> None:
    stamp = stamp_for(config({"token": CANARY, "a": CANARY}), STACK, SALT, KEY)
    assert stamp.secret_keys is not None and CANARY not in stamp.secret_keys
    prefix = f"hmac-sha256:{KEY.key_id}:"
    assert stamp.secret_keys.startswith(prefix)
    digests = json.loads(stamp.secret_keys.removeprefix(prefix))
    assert list(digests) == ["a", "token"] and digests["a"] != digests["token"]  # same value, other name
    pair = json.dumps(["token", CANARY], separators=(",", ":")).encode()
    want = hmac.new(KEY_TEXT.encode(), b"metorial-apply/secret-key\0" + bytes.fromhex(SALT) + pair, hashlib.sha256)
    assert digests["token"] == want.hexdigest()[:32]
    metadata = stamp.to_metadata()
    assert metadata["metorial-apply/secret-keys"] == stamp.secret_keys
    assert Stamp.split(metadata)[1] == stamp


def test_no_per_key_fingerprints_in_scrypt_mode_or_for_a_value_that_is_no_dict() -> None:
    assert stamp_for(config({"token": CANARY}), STACK, SALT).secret_keys is None
    assert key_fingerprints(SecretValue(CANARY), SALT, KEY) is None
    assert key_fingerprints(SecretValue({}), SALT, KEY) is None


def test_plan_names_changed_added_and_removed_keys_only() -> None:
    old = keyed_live(config({"a": "same", "b": "old", "gone": "x"}))
    diffs = secret_diffs(config({"a": "same", "b": CANARY, "c": CANARY}), old)
    assert diffs == [FieldDiff(field="value.b", before=SECRET, after=SECRET, secret=True),
                     FieldDiff(field="value.c", before=None, after=SECRET, secret=True),
                     FieldDiff(field="value.gone", before=SECRET, after=None, secret=True)]


def test_old_stamps_and_other_keys_fall_back_to_the_whole_value() -> None:
    r = config({"a": "old"})
    keyed = keyed_live(r)
    assert keyed.stamp is not None
    old = keyed.model_copy(update={"stamp": keyed.stamp.model_copy(update={"secret_keys": None})})
    whole = [FieldDiff(field="value", before=SECRET, after=SECRET, secret=True)]
    assert secret_diffs(config({"a": CANARY}), old) == whole
    other = keyed.stamp.model_copy(update={"secret_keys": stamp_for(r, STACK, SALT, OTHER).secret_keys})
    assert changed_keys(SecretValue({"a": CANARY}), other, KEY) is None
    broken = keyed.stamp.model_copy(update={"secret_keys": f"hmac-sha256:{KEY.key_id}:{{not json"})
    assert changed_keys(SecretValue({"a": CANARY}), broken, KEY) is None


def test_scrypt_mode_keeps_one_line_and_notes_that_naming_needs_the_key() -> None:
    plan = build_plan(state(config({"a": CANARY})), state(live(config({"a": "old"}))))
    (change,) = plan.changes
    assert [d.field for d in change.diffs if d.secret] == ["value"]
    assert [n.text for n in plan.notes] == [NAMING_NEEDS_KEY] and "METORIAL_APPLY_FINGERPRINT_KEY" in NAMING_NEEDS_KEY
