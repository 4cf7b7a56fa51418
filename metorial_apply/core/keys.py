"""API keys as code: the vocabulary of key backends (Metlo, Metal) and the keys they hold.

Neither service stores metadata on a key, so a key is ours by its name, `<stack>~<name>~<generation>`:
`~` is outside both the stack and the resource-name alphabets (so `prod` never parses `prod.eu`'s
keys as its own) and unreserved in URLs (so a name travels in a Metlo delete path as written).
A key's one-time secret exists only once the key is created, at apply time, so `${key.NAME.PART}`
in a consumer's write-only value is kept as a *slot* (a marker delimited by NUL characters, which
YAML cannot produce by accident) until then: `keys_in` names the keys a value holds (the
consumer's references to `api_key.NAME`), `fill` is the value a create sends, in memory, and
`bind` is the value whose fingerprint the consumer's stamp keeps, every slot replaced by the
key's public identity: computable again at plan time from the key list alone, so a plan tells
"same value, same key" from a changed value or a new key generation without seeing a secret.
Everything here is pure and immutable; secrets live in SecretValue only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ConfigDict

from metorial_apply.core.model import NAME, Address, Frozen, Resource, SecretValue, strings_in

KEY_SEPARATOR = "~"
KEY_SECTIONS = ("key_backends", "api_keys")  # top-level YAML sections
BACKEND_TYPES = ("metlo", "metal")
KEY_TYPES = ("GENERIC", "ONBOARDING", "GCP", "AWS")  # Metlo's `keyFor`; Metal keys have no type
DEFAULT_KEY_TYPE = "GENERIC"  # what Metlo makes of a create without `keyFor`
# `${key.NAME.PART}`: the one-time secret, and the key's public identity under either name.
KEY_PARTS: dict[str, tuple[str, ...]] = {
    "metlo": ("secret", "identifier"), "metal": ("secret", "client_id", "identifier"),
}
KEY_LIMITS: dict[str, int | None] = {"metlo": 50, "metal": None}  # Metal's "depends on your plan"
KEY_ADDRESS_KIND = "api_key"
_GENERATION = re.compile(r"[1-9][0-9]{0,8}")


class KeyName(Frozen):
    """A parsed key name: which stack and key it belongs to, and which generation it is."""

    stack: str
    name: str
    generation: int

    def __str__(self) -> str:
        return key_name(self.stack, self.name, self.generation)


def key_name(stack: str, name: str, generation: int) -> str:
    return KEY_SEPARATOR.join((stack, name, str(generation)))


def parse_key_name(text: str, stack: str) -> KeyName | None:
    """The parts of a key name of `stack`; None for every other name (never ours)."""
    parts = text.split(KEY_SEPARATOR)
    if len(parts) != 3 or parts[0] != stack or not NAME.fullmatch(parts[1]) or not _GENERATION.fullmatch(parts[2]):
        return None
    return KeyName(stack=stack, name=parts[1], generation=int(parts[2]))


def key_address(name: str) -> Address:
    return Address(kind=KEY_ADDRESS_KIND, name=name)


class KeyBackend(Frozen):
    """One entry of `key_backends:` as resolved: where it is and the credentials it takes.

    `url` is `local` or an http(s) URL set outside the YAML (config checks that); credentials
    are None only for `local`, whose emulator's bootstrap credentials the api layer fills in, or
    when `readable` is False: `plan` without the backend's credentials (or URL), which plans its
    keys from the stack index instead and sends it nothing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    name: str
    type: str  # one of BACKEND_TYPES
    url: str = ""
    api_key: SecretValue | None = None
    client_id: SecretValue | None = None  # Metal only
    url_from: str = ""  # how the URL was set, for messages: "env:METLO_URL", "local", "METORIAL_APPLY_KEY_HOSTS"
    source: str | None = None  # "file:line"
    readable: bool = True

    def __repr_args__(self) -> Any:
        # The URL may come from the environment; keep it out of reprs along with the credentials.
        return [("name", self.name), ("type", self.type), ("url_from", self.url_from)]

    @property
    def local(self) -> bool:
        return self.url == "local"


class DesiredKey(Frozen):
    """One entry of `api_keys:`: its backend, its Metlo type, its rotation age, and who consumes it."""

    name: str
    backend: str
    key_for: str | None = None  # Metlo only; None means the default, GENERIC
    rotate_after_s: int | None = None
    source: str | None = None

    @property
    def address(self) -> Address:
        return key_address(self.name)


class LiveKey(Frozen):
    """A key as the backend lists it (never its secret)."""

    backend: str  # the `key_backends:` name it was read from
    name: str
    identity: str  # Metlo `identifier`, Metal `clientId`
    id: str  # what its delete takes: Metlo the name, Metal the key's id
    created: str | None = None  # ISO 8601
    key_for: str | None = None  # Metlo only
    last_four: str | None = None  # Metal only


class CreatedKey(Frozen):
    """A key just created, with its one-time secret: held in memory only, never written anywhere."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    key: LiveKey
    secret: SecretValue

    def parts(self) -> dict[str, str]:
        """What `${key.NAME.PART}` stands for (the identity under both of its names)."""
        return {"secret": self.secret.reveal(), "identifier": self.key.identity, "client_id": self.key.identity}


# -- slots: where a key's one-time secret goes in a consumer's value ---------------------------

_OPEN, _CLOSE = "\x00key:", "\x00"
SLOT = re.compile(r"\x00key:([^\x00]+)\.(secret|client_id|identifier)\x00")


def slot(name: str, part: str) -> str:
    """The marker standing for `${key.NAME.PART}` until apply time."""
    return f"{_OPEN}{name}.{part}{_CLOSE}"


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
    return frozenset((m.group(1), m.group(2)) for s in strings_in(secret.reveal()) for m in SLOT.finditer(s))


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


def consumed(resources: Iterable[Resource]) -> frozenset[str]:
    """The api keys some resource's write-only value holds: keys nothing holds have no consumer
    record to tell a lost secret by (their secret went to --secrets-out)."""
    return frozenset(name for r in resources for name in keys_in(r.secret))
