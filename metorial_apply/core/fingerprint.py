"""Salted scrypt fingerprints of write-only secrets, and the ownership stamp built from them.

The API never returns a secret, so the stamp keeps a fingerprint of the value last applied.
Metadata is readable by every secret key of the organisation, so a plain hash would let anyone
guess weak secrets offline at GPU speed. scrypt with n=2**12, r=8, p=1 costs ~6 ms and 4 MiB
per guess (measured: 2**11 ≈ 3 ms, 2**13 ≈ 13 ms, 2**14 ≈ 26 ms on one core): slow and
memory-hard enough to make guessing expensive, fast enough that a plan over thousands of
secrets stays in seconds (fingerprints run in parallel threads: hashlib releases the GIL).
The parameters are written into every fingerprint, so they can be raised later without
breaking comparisons with fingerprints already stored.

Keyed mode (`FingerprintKey`): `hmac-sha256:<key_id>:<hex>` costs microseconds and cannot be
guessed offline without the key, which never leaves this process. Stored scrypt fingerprints
keep comparing by scrypt; an hmac one is never guessed at without its key (`check_key`).

Why the default stays scrypt and fast means keyed: whoever reads a stamp can run our comparison
with a guess in place of the secret, so any keyless comparison that costs us c per secret costs
a guesser c per guess. Cheaper keyless comparison would be cheaper guessing by the same factor.
So the default keeps scrypt's cost per guess; what it no longer pays twice is the same
(salt, secret) within one process (`_scrypt`, an in-memory memo that is never written
anywhere), and the fast path is one command away (`metorial-apply keygen`; `plan` suggests it
when it compared more than SUGGEST_KEY_ABOVE scrypt fingerprints).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

from metorial_apply.core.errors import PlanError, UsageError
from metorial_apply.core.model import Resource, SecretValue, Stamp, spec_hash

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**12, 8, 1
SALT_BYTES = 16
DKLEN = 16
SCHEME = "scrypt"
HMAC_SCHEME = "hmac-sha256"
KEY_ENV = "METORIAL_APPLY_FINGERPRINT_KEY"
MIN_KEY_CHARS = 32
NAMED = 10  # addresses an error lists before "and N more"
_HMAC_FORM = re.compile(r"hmac-sha256:([0-9a-f]{8}):[0-9a-f]{64}")
KEY_BYTES = 32  # 256 random bits, token_urlsafe: 43 characters
# Above this many scrypt comparisons (~10 ms of CPU each) a plan spends seconds a key would save.
SUGGEST_KEY_ABOVE = 200
MEMO_SIZE = 65536  # (salt, secret) pairs remembered per process: 10,000s of secrets, a few MiB
# Per-key fingerprints (keyed mode only): a value with more top-level keys keeps one fingerprint,
# so a stamp stays a few KiB of metadata. 128 bits each: keyed, so nothing to guess offline.
KEYS_LIMIT = 64
KEY_DIGEST_HEX = 32
KeyChange = tuple[str, str]  # (top-level key name, "added" | "removed" | "changed")


@dataclass(frozen=True)
class FingerprintKey:
    """The secret key of keyed fingerprints. repr/str are redacted so the key cannot reach
    output, logs or tracebacks by accident; only `key_id` (not secret) is ever shown."""

    material: bytes = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> FingerprintKey:
        # The message names the variable and the length rule, never the value.
        if len(text) < MIN_KEY_CHARS:
            raise UsageError(f"{KEY_ENV} is too short: use at least {MIN_KEY_CHARS} characters (a random key)")
        return cls(text.encode("utf-8"))

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"metorial-apply/key-id\0" + self.material).hexdigest()[:8]

    def __repr__(self) -> str:
        return f"FingerprintKey(key_id={self.key_id}, <redacted>)"

    __str__ = __repr__


def new_salt() -> str:
    """A fresh random salt (hex). Impure: only the applier (and the saved-plan digest) call it."""
    return os.urandom(SALT_BYTES).hex()


def new_key() -> str:
    """A fresh fingerprint key for METORIAL_APPLY_FINGERPRINT_KEY (`metorial-apply keygen`)."""
    return secrets.token_urlsafe(KEY_BYTES)


@lru_cache(maxsize=MEMO_SIZE)
def _scrypt(material: bytes, salt: str, n: int, r: int, p: int) -> str:
    # The per-process memo: a secret compared twice in one run (warm then plan, plan then
    # apply) costs one scrypt. It lives in memory only, where the secret itself already is.
    return hashlib.scrypt(material, salt=bytes.fromhex(salt), n=n, r=r, p=p, dklen=DKLEN, maxmem=2**26).hex()


def fingerprint(secret: SecretValue, salt: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """`scrypt:N:R:P:hex` of the secret's canonical JSON under `salt` (hex)."""
    return f"{SCHEME}:{n}:{r}:{p}:{_scrypt(secret.canonical(), salt, n, r, p)}"


def keyed_fingerprint(secret: SecretValue, salt: str, key: FingerprintKey) -> str:
    """`hmac-sha256:<key_id>:<hex>` of the salt bytes followed by the secret's canonical JSON."""
    digest = hmac.new(key.material, bytes.fromhex(salt) + secret.canonical(), hashlib.sha256).hexdigest()
    return f"{HMAC_SCHEME}:{key.key_id}:{digest}"


def _key_digest(name: str, value: object, salt: str, key: FingerprintKey) -> str:
    # The name is bound into the message, so equal values under different names differ.
    pair = json.dumps([name, value], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    message = b"metorial-apply/secret-key\0" + bytes.fromhex(salt) + pair
    return hmac.new(key.material, message, hashlib.sha256).hexdigest()[:KEY_DIGEST_HEX]


def _top_level(secret: SecretValue) -> dict[str, object] | None:
    value = secret.reveal()
    if not isinstance(value, dict) or not value or len(value) > KEYS_LIMIT:
        return None
    return {str(name): item for name, item in value.items()}


def key_fingerprints(secret: SecretValue, salt: str, key: FingerprintKey) -> str | None:
    """`hmac-sha256:<key_id>:{"name":"hex",…}` (sorted), one keyed fingerprint per top-level key
    of a dict value; None for any other value. Names are stored, values never."""
    items = _top_level(secret)
    if items is None:
        return None
    digests = {name: _key_digest(name, item, salt, key) for name, item in items.items()}
    return f"{HMAC_SCHEME}:{key.key_id}:" + json.dumps(digests, sort_keys=True, separators=(",", ":"))


def _stored_keys(stamp: Stamp | None, key: FingerprintKey | None) -> dict[str, str] | None:
    """The stamp's per-key fingerprints when they were made with `key`, else None."""
    if key is None or stamp is None or not stamp.secret_keys or not _valid_salt(stamp.secret_salt):
        return None
    scheme, _, rest = stamp.secret_keys.partition(":")
    key_id, _, body = rest.partition(":")
    if scheme != HMAC_SCHEME or key_id != key.key_id:
        return None
    try:
        stored = json.loads(body)
    except ValueError:
        return None
    if not isinstance(stored, dict) or not all(isinstance(v, str) for v in stored.values()):
        return None
    return stored


def changed_keys(secret: SecretValue, stamp: Stamp | None, key: FingerprintKey | None) -> tuple[KeyChange, ...] | None:
    """Which top-level keys of a dict value differ from the stamp's per-key fingerprints, sorted
    by name; None when the stamp cannot tell (scrypt mode, an older stamp, another key)."""
    stored, items = _stored_keys(stamp, key), _top_level(secret)
    if stored is None or items is None or key is None or stamp is None:
        return None
    salt = stamp.secret_salt or ""
    out: list[KeyChange] = []
    for name in sorted(items.keys() | stored.keys()):
        if name not in stored:
            out.append((name, "added"))
        elif name not in items:
            out.append((name, "removed"))
        elif not hmac.compare_digest(_key_digest(name, items[name], salt, key), stored[name]):
            out.append((name, "changed"))
    return tuple(out)


def _hmac_key_id(stored: str) -> str | None:
    """The key id of a well-formed hmac fingerprint, else None."""
    found = _HMAC_FORM.fullmatch(stored)
    return found.group(1) if found else None


def _needs_other_key(stamp: Stamp, key: FingerprintKey | None) -> bool:
    fp = stamp.secret_fingerprint
    key_id = _hmac_key_id(fp) if fp else None
    return key_id is not None and (key is None or key.key_id != key_id)


def check_key(stamps: Iterable[Stamp | None], key: FingerprintKey | None) -> None:
    """Refuse to compare hmac fingerprints without their key: guessing "changed" would plan a
    replace of every keyed secret, guessing "unchanged" would hide real changes."""
    bad = sorted(st.address for st in stamps if st is not None and _needs_other_key(st, key))
    if not bad:
        return
    names = ", ".join(bad[:NAMED]) + (f" and {len(bad) - NAMED} more" if len(bad) > NAMED else "")
    why = "no fingerprint key is set" if key is None else f"the fingerprint key set has key id {key.key_id}"
    raise PlanError(f"cannot compare the keyed secret fingerprints of {names}: {why}; set {KEY_ENV} to the key "
                    "the stack was applied with (a lost key means re-creating those resources: "
                    "apply --replace ADDRESS)")


def _params(stored: str) -> tuple[int, int, int] | None:
    parts = stored.split(":")
    if len(parts) != 5 or parts[0] != SCHEME or not all(x.isdigit() for x in parts[1:4]):
        return None
    n, r, p = (int(x) for x in parts[1:4])
    # Refuse absurd costs from a tampered stamp rather than hanging or exhausting memory.
    if not (2 <= n <= 2**16 and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4):
        return None
    return n, r, p


def _valid_salt(salt: str | None) -> bool:
    if not salt or len(salt) > 128:
        return False
    try:
        bytes.fromhex(salt)
    except ValueError:
        return False
    return True


def matches(secret: SecretValue, stamp: Stamp | None, key: FingerprintKey | None = None) -> bool:
    """True when the stamp's stored fingerprint is that of `secret` (with the stored salt and
    parameters, or `key` for an hmac one). A missing or malformed fingerprint never matches:
    the value is unknown. An hmac fingerprint without its key raises PlanError (`check_key`)."""
    if stamp is None or not stamp.secret_fingerprint or not _valid_salt(stamp.secret_salt):
        return False
    if _hmac_key_id(stamp.secret_fingerprint) is not None:
        check_key([stamp], key)
        assert key is not None
        return hmac.compare_digest(keyed_fingerprint(secret, stamp.secret_salt or "", key), stamp.secret_fingerprint)
    params = _params(stamp.secret_fingerprint)
    if params is None:
        return False
    n, r, p = params
    mine = fingerprint(secret, stamp.secret_salt or "", n=n, r=r, p=p)
    return hmac.compare_digest(mine, stamp.secret_fingerprint)


def is_scrypt(stamp: Stamp | None) -> bool:
    """True when comparing against this stamp costs a scrypt (a well-formed scrypt fingerprint)."""
    return stamp is not None and _valid_salt(stamp.secret_salt) and _params(stamp.secret_fingerprint or "") is not None


def warm(pairs: Iterable[tuple[SecretValue, Stamp | None]], *, workers: int = 4) -> int:
    """Compute the fingerprints `matches` will need, in parallel threads, so a later pure
    `build_plan` finds them cached. Pure in effect: it only fills the in-process memo.
    Returns how many scrypt comparisons there are (for `key_hint`)."""
    # Only scrypt needs warming: an hmac fingerprint costs microseconds (and may lack its key).
    todo = [(s, st) for s, st in pairs if is_scrypt(st)]
    if len(todo) >= 2 and workers >= 2:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda pair: matches(*pair), todo))
    return len(todo)


def key_hint(scrypt_comparisons: int) -> str | None:
    """The suggestion `plan` prints when scrypt comparisons cost seconds; None below the threshold."""
    if scrypt_comparisons <= SUGGEST_KEY_ABOVE:
        return None
    return (f"Hint: {scrypt_comparisons} secret values were compared by scrypt (~10 ms of CPU each). "
            f"Run `metorial-apply keygen` and store the key as {KEY_ENV} beside the API key to compare "
            f"them in microseconds; stamps turn keyed as their resources are next written.")


def background_pool(workers: int) -> ThreadPoolExecutor:
    """Threads for fingerprints computed ahead of need, at the lowest CPU priority: scrypt is
    CPU-bound by design, and where cores are few it must not slow the event loop driving the
    API calls (nor, on one machine, the API server), only use the CPU they leave idle."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fingerprint", initializer=_lowest_priority)


def _lowest_priority() -> None:
    # Linux keeps a nice value per thread, so this lowers the pool's own threads only; other
    # systems read the id as a process id, so they keep the normal priority.
    if sys.platform.startswith("linux"):
        # Not permitted here: a normal priority is still correct, only less polite.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def stamp_for(resource: Resource, stack: str, salt: str | None, key: FingerprintKey | None = None) -> Stamp:
    """The ownership stamp the applier writes with every create and update of `resource`.

    `salt` is required when the resource has a secret (use `new_salt()`, or the live salt to
    keep an unchanged fingerprint stable). With `key` the fingerprint is hmac, else scrypt."""
    fp = None
    if resource.secret is not None:
        if not _valid_salt(salt):
            raise ValueError(f"{resource.address}: a secret needs a hex salt for its fingerprint")
        fp = keyed_fingerprint(resource.secret, salt or "", key) if key else fingerprint(resource.secret, salt or "")
    return Stamp(
        stack=stack,
        address=str(resource.address),
        spec_hash=spec_hash(resource.spec, resource.sensitive | resource.ignore),
        secret_fingerprint=fp,
        secret_salt=salt if fp else None,
        protect=resource.protect,
        sensitive=tuple(sorted(resource.sensitive)),
        secret_keys=key_fingerprints(resource.secret, salt or "", key) if fp and key and resource.secret else None,
        ignore=tuple(sorted(resource.ignore)) or None,
    )
