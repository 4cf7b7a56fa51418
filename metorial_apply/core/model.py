"""Core value types shared by desired and live state: Address, SecretValue, Stamp, Resource, Catalog.

Everything here is immutable and pure. Per-kind YAML spec models live in `specs.py`; per-kind
API behaviour in `kinds.py`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import core_schema

STAMP_PREFIX = "metorial-apply/"
STAMP_KEYS = ("stack", "address", "spec-hash", "secret-fingerprint", "secret-salt", "protect", "sensitive",
              "secret-keys", "ignore", "keys", "run")


class Frozen(BaseModel):
    """Base for every model: immutable, no unknown fields. Each model's validator is built when it
    is first used, not at import: a command uses a handful of the models it imports, and building
    the others was a large part of start-up (issue 24)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


# A resource name as users write it in YAML (the key under its kind); stamps are checked against
# the same rule, so a forged address outside it is foreign.
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


class Address(Frozen):
    """`kind.name`: the identity of a resource everywhere (never the server id)."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.name}"

    # Addresses key every map of a plan (about a million hashes at 10,000 resources); pydantic's
    # generic __hash__/__eq__ (0.48/0.85 µs) cost about twice these, which mean the same.
    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self.kind == other.kind and self.name == other.name  # type: ignore[attr-defined]

    @classmethod
    def parse(cls, text: str) -> Address:
        kind, sep, name = text.partition(".")
        if not sep or not kind or not name:
            raise ValueError(f"not an address (want kind.name): {text!r}")
        return cls(kind=kind, name=name)


def parse_spec_path(text: str) -> tuple[str | int, ...]:
    """A path of KindSpec.references(): "providers[0].config" → ("providers", 0, "config")."""
    out: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", text):
        out.append(int(index) if index else name)
    return tuple(out)


def strings_in(value: Any) -> list[str]:
    """Every string inside a JSON value (a secret's, say), depth first."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return [value] if isinstance(value, str) else []


class SecretValue:
    """A JSON value that must never be shown: repr/str are redacted; `reveal()` gives it back.

    Equality compares content so desired states compare structurally; hashing uses a digest so
    a SecretValue can sit inside frozen models.
    """

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("SecretValue is immutable")

    def reveal(self) -> Any:
        return self._value

    def canonical(self) -> bytes:
        """Canonical JSON bytes of the value, the input of fingerprints."""
        return json.dumps(self._value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def __repr__(self) -> str:
        return "SecretValue('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and self.canonical() == other.canonical()

    def __hash__(self) -> int:
        import hashlib  # here, as in spec_hash: loading OpenSSL is ~4 ms of start-up that validate never uses

        return hash(hashlib.sha256(self.canonical()).digest())

    def __reduce__(self) -> Any:
        raise TypeError("SecretValue cannot be pickled")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            lambda v: v if isinstance(v, SecretValue) else SecretValue(v),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda v: "***"),
        )


class Stamp(Frozen):
    """Ownership stamp kept in a resource's metadata under `metorial-apply/` keys."""

    stack: str
    address: str
    spec_hash: str
    secret_fingerprint: str | None = None
    secret_salt: str | None = None
    # `protect: true` travels with the live resource, so removing the resource from the YAML
    # (which also removes its flag) cannot delete it behind the protection's back.
    protect: bool = False
    # Spec fields whose value came from ${env:}/${file:} when applied (names, never values), so
    # their live value stays redacted after the YAML stops using a secret, or drops the resource.
    # None: a stamp written before this key existed (then the desired side's fields are used).
    sensitive: tuple[str, ...] | None = None
    # Keyed mode, dict values only: `hmac-sha256:<key_id>:{"name":"hex",…}`, one keyed
    # fingerprint per top-level key (names visible, values never), so a plan can name the key
    # that changed. None: scrypt mode, a non-dict value, or a stamp written before this key.
    secret_keys: str | None = None
    # Fields `ignore:` left out of `spec_hash` when applied (names; absent when none), so drift is
    # checked over the same fields the hash covered even after the YAML's `ignore:` list changes.
    ignore: tuple[str, ...] | None = None
    # A key consumer's held key generations, `name=identity,…` (held_text below: api key
    # names and public identities, never a secret): with the key's name, what makes a live key
    # ours and its secret not lost. None: no keys held, or a stamp written before this key.
    keys: str | None = None
    # The run that wrote this stamp (the stack lock's run id): an object the stack's index does not
    # list is ours only while that run's entry in the index is open (core/index.py). None: a stamp
    # written before runs were recorded.
    run: str | None = None

    def to_metadata(self) -> dict[str, str]:
        values = [self.stack, self.address, self.spec_hash, self.secret_fingerprint, self.secret_salt,
                  "true" if self.protect else None,
                  ",".join(sorted(self.sensitive)) if self.sensitive is not None else None, self.secret_keys,
                  ",".join(sorted(self.ignore)) if self.ignore else None, self.keys or None, self.run or None]
        return {STAMP_PREFIX + k: v for k, v in zip(STAMP_KEYS, values, strict=False) if v is not None}

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Stamp | None:
        """The stamp of an API object; None when it has none (or its metadata is not a mapping)."""
        metadata = obj.get("metadata")
        return cls.split(metadata if isinstance(metadata, dict) else None)[1]

    @classmethod
    def split(cls, metadata: dict[str, Any] | None) -> tuple[dict[str, Any], Stamp | None]:
        """Split API metadata into (user metadata, stamp or None when not ours or malformed)."""
        metadata = metadata or {}
        user = {k: v for k, v in metadata.items() if not k.startswith(STAMP_PREFIX)}
        ours = {k[len(STAMP_PREFIX):]: v for k, v in metadata.items() if k.startswith(STAMP_PREFIX)}
        return user, cls.from_keys(ours)

    @classmethod
    def from_keys(cls, ours: Mapping[str, Any]) -> Stamp | None:
        """A stamp from its keys without the prefix; None when stack, address or spec-hash is not a
        string (any other value of the wrong type counts as absent)."""
        if not all(isinstance(ours.get(k), str) for k in STAMP_KEYS[:3]):
            return None

        def text(key: str) -> str | None:
            value = ours.get(key)
            return value if isinstance(value, str) else None

        return cls(
            stack=ours["stack"], address=ours["address"], spec_hash=ours["spec-hash"],
            secret_fingerprint=text("secret-fingerprint"), secret_salt=text("secret-salt"),
            protect=ours.get("protect") == "true", sensitive=_fields(ours.get("sensitive")),
            secret_keys=text("secret-keys"), ignore=_fields(ours.get("ignore")) or None, keys=text("keys"),
            run=text("run"),
        )


_HELD_ITEM = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.-]{0,99})=([A-Za-z0-9_.\-]{1,200})")


def held_text(held: Mapping[str, str]) -> str:
    """The key generations a consumer holds, as its stamp keeps them: `ingest=metlo.abc,sync=ci_x`
    (key names and public identities only, never a secret)."""
    return ",".join(f"{name}={identity}" for name, identity in sorted(held.items()))


def parse_held(text: object) -> dict[str, str] | None:
    """`held_text` read back; None when absent or malformed (then the consumer holds no key we know)."""
    if not isinstance(text, str):
        return None
    items = [_HELD_ITEM.fullmatch(part) for part in text.split(",") if part]
    if not all(items):
        return None
    return {m.group(1): m.group(2) for m in items if m is not None}


def _fields(text: Any) -> tuple[str, ...] | None:
    """`metorial-apply/sensitive` ("description,metadata") → sorted field names; None when absent."""
    if not isinstance(text, str):
        return None
    return tuple(sorted({part for part in text.split(",") if part}))


class Adoption(Frozen):
    """Why a live object sits at an address its stamp does not (yet) name: `import` (no stamp),
    `takeover` (`other` is the stack whose stamp it carries) or `move` (`other` is the old address)."""

    action: str
    other: str = ""


class Resource(Frozen):
    """One resource of desired or live state.

    `spec` is the canonical, JSON-only form of the user-declared fields (refs by name, provider
    by slug, defaults filled, empty normalised to None/[]/{}), identical in shape for desired and
    live so the two compare directly. Write-only values live in `secret` (desired only).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    address: Address
    spec: dict[str, Any]
    secret: SecretValue | None = None  # desired: the write-only value(s); live: None
    sensitive: frozenset[str] = frozenset()  # spec fields holding values from ${env:}/${file:}
    protect: bool = False
    # desired only: fields `ignore:` leaves to the dashboard (canonical spec names, plus a secret
    # field such as `value`): never compared, never sent on update, sent on create.
    ignore: frozenset[str] = frozenset()
    # live only:
    id: str | None = None
    stamp: Stamp | None = None
    fingerprint: str | None = None  # digest of the live API object, for saved-plan staleness
    children: dict[str, str] = {}  # sub-resource ids by key (template providers: deployment name → stp id)
    source: str | None = None  # desired only: "file:line" where it was declared
    adoption: Adoption | None = None  # live only: this object is being imported, taken over or moved


    def __repr_args__(self) -> Any:
        # Values from ${env:}/${file:} are secret: keep them out of reprs, logs and tracebacks.
        for key, value in super().__repr_args__():
            if key == "spec" and self.sensitive:
                value = {k: ("***" if k in self.sensitive else v) for k, v in value.items()}
            yield key, value


def spec_hash(spec: dict[str, Any], sensitive: frozenset[str] = frozenset()) -> str:
    """Hash of a canonical spec, stored in the stamp. Sensitive fields are left out so the
    hash (readable by anyone who can read metadata) never helps guess a secret; callers add
    ignored fields to `sensitive` too, so a dashboard edit of one never reads as drift."""
    import hashlib  # not at the top: see SecretValue.__hash__

    visible = {k: v for k, v in spec.items() if k not in sensitive}
    text = json.dumps(visible, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]


class CatalogProvider(Frozen):
    """A provider of the read-only catalog, reduced to what naming and resolution need."""

    id: str
    slug: str
    identifier: str
    name: str
    current_version_id: str | None = None
    versions: dict[str, str] = {}  # version string → version id
    auth_methods: dict[str, str] = {}  # method key → method id
    config_schema: dict[str, Any] | None = None  # JSON Schema of config values (current version)
    auth_method_schemas: dict[str, dict[str, Any]] = {}  # method key → JSON Schema of its input
    tools: tuple[str, ...] | None = None  # tool keys of the current version (None: not read)


class Defaults(Frozen):
    """Names of our live deployments that have a default config / auth config, which a template
    provider then gets when it names none (the API gives deployments it creates neither)."""

    config: frozenset[str] = frozenset()
    auth_config: frozenset[str] = frozenset()


class Catalog(Frozen):
    """The providers the API offers; resolves user names (slug/identifier/id) to ids and back."""

    providers: tuple[CatalogProvider, ...] = ()

    def find(self, ref: str) -> CatalogProvider | None:
        for p in self.providers:
            if ref in (p.id, p.slug, p.identifier):
                return p
        return None

    def slugs(self) -> list[str]:
        return sorted(p.slug for p in self.providers)
