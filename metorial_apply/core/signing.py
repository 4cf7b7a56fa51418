"""Signing the stack index (Ed25519): the apply job holds the private half, plan jobs verify with
the public half, so an index no apply job wrote (entries added, ids swapped, an older generation
put back) is refused before anything is planned. Pure."""

from __future__ import annotations

import base64
import binascii
import hashlib

from metorial_apply.core.errors import MetorialApplyError


class IndexKeyError(MetorialApplyError):
    """An index key that is not a key."""


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:8]


def decode_key(text: str, what: str) -> bytes:
    """A raw 32-byte Ed25519 key (private or public half) from base64."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise IndexKeyError(f"{what} is not a base64 Ed25519 key (32 raw bytes)")
    return raw


def public_of(private_key: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes_raw()


def new_pair() -> tuple[bytes, bytes]:
    """A fresh (private, public) pair."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    return key.private_bytes_raw(), key.public_key().public_bytes_raw()


def sign(digest: str, private_key: bytes) -> str:
    """`ed25519:<key id>:<base64 signature>` of a head digest."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(private_key)
    return f"ed25519:{key_id(public_of(private_key))}:{base64.b64encode(key.sign(digest.encode())).decode()}"


def verified(digest: str, signature: object, public_key: bytes) -> bool:
    """True only for a signature of `digest` by the private half of `public_key`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    parts = signature.split(":") if isinstance(signature, str) else []
    if len(parts) != 3 or parts[0] != "ed25519" or parts[1] != key_id(public_key):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(base64.b64decode(parts[2], validate=True),
                                                              digest.encode())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
