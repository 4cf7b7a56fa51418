"""The applier's stamps with a fingerprint key: hmac, the live salt kept for an unchanged
secret (so a scrypt stamp turns keyed in place when next written), and the key never in a repr."""

from __future__ import annotations

import asyncio
from typing import Any

from metorial_apply.apply.execute import Executor
from metorial_apply.core.fingerprint import FingerprintKey, matches
from tests.plan.factory import CANARY, SALT, STACK, desired, live

KEY_TEXT = "canary-fingerprint-key-0123456789abcdef"
KEY = FingerprintKey.parse(KEY_TEXT)


def executor(key: FingerprintKey | None) -> Executor:
    client: Any = None  # stamps make no API calls
    return Executor(client=client, ids=client, stack=STACK, key=key)


def test_keyed_stamp_keeps_the_live_salt_and_turns_a_scrypt_stamp_into_hmac() -> None:
    r = desired("config", "x", {"deployment": "d", "value": {"token": CANARY}})
    old = live(r).stamp
    assert old is not None and (old.secret_fingerprint or "").startswith("scrypt:")
    stamp = asyncio.run(executor(KEY).stamp(r, old))
    assert stamp.secret_salt == SALT and (stamp.secret_fingerprint or "").startswith(f"hmac-sha256:{KEY.key_id}:")
    assert matches(r.secret, stamp, KEY)  # type: ignore[arg-type]
    fresh = asyncio.run(executor(KEY).stamp(r))
    assert fresh.secret_salt != SALT and matches(r.secret, fresh, KEY)  # type: ignore[arg-type]


def test_without_a_key_stamps_stay_scrypt_and_the_key_is_never_in_a_repr() -> None:
    r = desired("config", "x", {"deployment": "d", "value": {"token": CANARY}})
    assert (asyncio.run(executor(None).stamp(r)).secret_fingerprint or "").startswith("scrypt:")
    assert KEY_TEXT not in repr(executor(KEY))
