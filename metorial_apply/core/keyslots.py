"""Where a key's one-time secret goes: slots in a consumer's write-only value.

`${key.NAME.PART}` in a vault's, config's or auth config's `value` (or a credential's secret)
cannot be resolved when the configuration is read: the secret exists only once the key is
created, at apply time. So config leaves a slot, a marker string the YAML cannot produce by
accident (it is delimited by NUL characters), inside the consumer's SecretValue:

- `slots_in(secret)` names the keys (and parts) a value holds, which makes the consumer depend
  on those keys (DesiredKey.consumers, and the apply graph's ordering);
- `fill(secret, created)` is the value sent in the consumer's create body, in memory, right
  after the key's create answered;
- `bind(secret, identities)` is the value whose fingerprint the consumer's stamp keeps: every
  slot replaced by the key's public identity, never its secret. A plan can compute it again
  from the live key list alone (the secret is gone by then), so it tells "same value holding
  the same key" from a changed value or a new key generation without ever seeing a secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from metorial_apply.core.model import SecretValue

_OPEN, _CLOSE = "\x00key:", "\x00"
SLOT = re.compile(r"\x00key:([^\x00]+)\.(secret|client_id|identifier)\x00")


def slot(name: str, part: str) -> str:
    """The marker standing for `${key.NAME.PART}` until apply time."""
    return f"{_OPEN}{name}.{part}{_CLOSE}"


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def _replace(value: Any, each: Any) -> Any:
    if isinstance(value, dict):
        return {k: _replace(v, each) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, each) for v in value]
    return SLOT.sub(each, value) if isinstance(value, str) else value


def slots_in(secret: SecretValue | None) -> frozenset[tuple[str, str]]:
    """(key name, part) of every slot in a write-only value."""
    if secret is None:
        return frozenset()
    return frozenset((m.group(1), m.group(2)) for s in _strings(secret.reveal()) for m in SLOT.finditer(s))


def keys_in(secret: SecretValue | None) -> frozenset[str]:
    return frozenset(name for name, _ in slots_in(secret))


def fill(secret: SecretValue, parts: Mapping[str, Mapping[str, str]]) -> SecretValue:
    """The value with every slot filled from `parts` (key name → part → text); KeyError when a
    key it holds was not created (the caller's ordering is wrong: nothing half-filled is sent)."""
    return SecretValue(_replace(secret.reveal(), lambda m: parts[m.group(1)][m.group(2)]))


def bind(secret: SecretValue, identities: Mapping[str, str]) -> SecretValue:
    """The value with every slot replaced by `key:<name>@<identity>.<part>`: the input of the
    consumer's fingerprint, computable at plan time from the live key list alone."""
    return SecretValue(_replace(secret.reveal(), lambda m: f"key:{m.group(1)}@{identities[m.group(1)]}.{m.group(2)}"))
