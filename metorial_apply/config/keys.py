"""`key_backends:` and `api_keys:` → KeyBackend and DesiredKey values, every problem at its YAML line.

A backend's credentials are sent only to a URL set outside the YAML: `${env:NAME}` (the whole
value, without a default), `local`, or a literal URL whose host is listed in
METORIAL_APPLY_KEY_HOSTS. Otherwise a pull request could point `url:` at its own server and
collect the admin key from the plan job. Credentials themselves must come from `${env:}` or
`${file:}`: one written in the YAML would be committed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from metorial_apply.config.interpolate import InterpolationError, Sources, Variable, interpolate
from metorial_apply.config.sections import did_you_mean
from metorial_apply.config.variables import Source
from metorial_apply.config.yamlsource import YamlPath, diagnostic
from metorial_apply.core.errors import Diagnostic
from metorial_apply.core.keys import BACKEND_TYPES, KEY_PARTS, KEY_TYPES, DesiredKey, KeyBackend
from metorial_apply.core.keyslots import keys_in
from metorial_apply.core.kinds import sort_key
from metorial_apply.core.model import NAME, Address, Resource, SecretValue

HOSTS_ENV = "METORIAL_APPLY_KEY_HOSTS"
BACKEND_FIELDS = ("type", "url", "api_key", "client_id")
KEY_FIELDS = ("backend", "key_for", "rotate_after")
ENV_ONLY = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
ROTATE = re.compile(r"([1-9][0-9]{0,5})([dhm])")
UNITS = {"d": 86400, "h": 3600, "m": 60}
URL_HINT = f"use url: ${{env:NAME}}, url: local, or a literal URL whose host is listed in {HOSTS_ENV}"
ALL_PARTS = ("secret", "client_id", "identifier")


@dataclass(frozen=True)
class KeyEntry:
    section: str
    name: str
    data: Any
    source: Source

    @property
    def path(self) -> YamlPath:
        return (self.section, self.name)

    def at(self, sub: YamlPath, message: str, hint: str | None = None, *, key: bool = False) -> Diagnostic:
        doc, full = self.source.doc, self.path + sub
        return diagnostic(doc.key_pos(full) if key else doc.value_pos(full), full, message, hint)

    @property
    def where(self) -> str:
        pos = self.source.doc.key_pos(self.path)
        return f"{pos.file}:{pos.line}"


@dataclass
class KeyConfig:
    """Both sections as read; `entries` keeps each api key's entry for later diagnostics."""

    backends: dict[str, KeyBackend] = field(default_factory=dict)
    keys: dict[str, DesiredKey] = field(default_factory=dict)
    entries: dict[str, KeyEntry] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # credential values, for the redaction guard

    def parts(self) -> dict[str, tuple[str, ...]]:
        """Key name → the parts `${key.NAME.PART}` may name (all of them when the backend is unknown)."""
        return {name: KEY_PARTS.get(self.backends[k.backend].type, ALL_PARTS) if k.backend in self.backends
                else ALL_PARTS for name, k in self.keys.items()}


def _entries(sources: list[Source], section: str, problems: list[Diagnostic]) -> list[KeyEntry]:
    found: dict[str, KeyEntry] = {}
    for source in sources:
        block = source.doc.data.get(section) if isinstance(source.doc.data, dict) else None
        for name, data in (block.items() if isinstance(block, dict) else []):
            entry = KeyEntry(section, name, data, source)
            if not NAME.fullmatch(name):
                problems.append(entry.at((), f'"{name}" is not a valid name', "names are up to 100 letters, "
                                         "digits, _, . and -, not starting with . or -", key=True))
            elif name in found:
                first = found[name].where
                problems.append(entry.at((), f'{section} "{name}" is defined twice: here and at {first}', key=True))
            else:
                found[name] = entry
    return list(found.values())


def _fields(entry: KeyEntry, allowed: tuple[str, ...], problems: list[Diagnostic]) -> dict[str, Any] | None:
    """The entry's mapping, with unknown fields reported (did-you-mean)."""
    if not isinstance(entry.data, dict):
        problems.append(entry.at((), f"{entry.section}.{entry.name} must be a mapping of fields"))
        return None
    for key in entry.data:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed) or "fields are: " + ", ".join(allowed)
            problems.append(entry.at((key,), f'unknown field "{key}"', hint, key=True))
    return entry.data


@dataclass(frozen=True)
class Reader:
    env: Mapping[str, str]
    variables: Mapping[str, Variable]
    lenient: bool

    def url(self, entry: KeyEntry, raw: Any) -> tuple[str, str] | Diagnostic:
        """(url, where it was set) or the problem with it."""
        if not isinstance(raw, str) or not raw:
            return entry.at(("url",), "url is required: a string", URL_HINT)
        if raw == "local":
            return "local", "local"
        env_ref = ENV_ONLY.fullmatch(raw)
        if env_ref:
            name = env_ref.group(1)
            if name not in self.env:
                return entry.at(("url",), f"environment variable {name} is not set", f"export {name}")
            return self.env[name], f"env:{name}"
        if "${" in raw:
            return entry.at(("url",), "url must be one whole ${env:NAME} (no default, nothing around it)", URL_HINT)
        host = (urlsplit(raw).hostname or "").lower()
        allowed = {h.strip().lower() for h in self.env.get(HOSTS_ENV, "").split(",") if h.strip()}
        if not host or host not in allowed:
            return entry.at(("url",), f'the key backend host "{host}" is not listed in {HOSTS_ENV}: the backend\'s '
                            "credentials are only sent to a URL set outside the YAML", URL_HINT)
        return raw, HOSTS_ENV

    def credential(self, entry: KeyEntry, name: str, raw: Any) -> SecretValue | Diagnostic:
        """A credential from ${env:}/${file:}, or the problem (a warning when offline validate lacks it)."""
        hint = f"e.g. {name}: \"${{env:{entry.name.upper().replace('-', '_').replace('.', '_')}_{name.upper()}}}\""
        if not isinstance(raw, str) or not raw:
            return entry.at((name,), f"{name} must be a string from ${{env:NAME}} or ${{file:PATH}}", hint)
        try:
            found = interpolate(raw, Sources(self.env, self.variables, entry.source.read_file, self.lenient))
        except InterpolationError as exc:
            return entry.at((name,), exc.message, exc.hint)
        if found.absent:  # offline validate: not at hand is a warning, the backend stays unusable
            return replace(entry.at((name,), found.absent[0].message, found.absent[0].hint), warning=True)
        if not found.sensitive:
            return entry.at((name,), f"{name} must come from ${{env:NAME}} or ${{file:PATH}}: a credential "
                            "written in the YAML would be committed", hint)
        return SecretValue(found.value)


def _backend(entry: KeyEntry, reader: Reader, out: KeyConfig) -> None:
    data = _fields(entry, BACKEND_FIELDS, out.problems)
    if data is None:
        return
    kind = data.get("type")
    if kind not in BACKEND_TYPES:
        hint = did_you_mean(str(kind), BACKEND_TYPES) or "types are: " + ", ".join(BACKEND_TYPES)
        out.problems.append(entry.at(("type",), "type is required: metlo or metal" if kind is None
                                     else f'unknown key backend type "{kind}"', hint))
        return
    url = reader.url(entry, data.get("url"))
    if isinstance(url, Diagnostic):
        out.problems.append(url)
        return
    creds: dict[str, SecretValue | None] = {}
    needed = ("api_key", "client_id") if kind == "metal" else ("api_key",)
    if kind == "metlo" and "client_id" in data:
        out.problems.append(entry.at(("client_id",), "a Metlo backend takes no client_id (only api_key)",
                                     key=True))
    for name in needed:
        if name not in data and url[0] == "local":
            creds[name] = None  # the local emulator's bootstrap credentials are filled in
            continue
        value = reader.credential(entry, name, data.get(name))
        if isinstance(value, Diagnostic):
            out.problems.append(value)
            if not value.warning:
                return
        creds[name] = value if isinstance(value, SecretValue) else None
    from_env = [url[0]] if url[1].startswith("env:") else []  # a URL from the environment is not printed either
    out.secrets += from_env + [c.reveal() for c in creds.values() if c is not None]
    out.backends[entry.name] = KeyBackend(name=entry.name, type=kind, url=url[0], url_from=url[1],
                                          source=entry.where, **creds)


def _rotate_after(entry: KeyEntry, raw: Any, problems: list[Diagnostic]) -> int | None:
    match = ROTATE.fullmatch(raw) if isinstance(raw, str) else None
    if raw is not None and match is None:
        problems.append(entry.at(("rotate_after",), "rotate_after must look like 90d, 12h or 30m"))
    return int(match.group(1)) * UNITS[match.group(2)] if match else None


def _key_for(entry: KeyEntry, raw: Any, backend: KeyBackend | None, problems: list[Diagnostic]) -> str | None:
    if raw is None:
        return None
    if backend is not None and backend.type == "metal":
        problems.append(entry.at(("key_for",), "Metal keys have no type: key_for is for Metlo backends", key=True))
        return None
    if raw not in KEY_TYPES:
        hint = did_you_mean(str(raw).upper(), KEY_TYPES) or "key_for is one of: " + ", ".join(KEY_TYPES)
        problems.append(entry.at(("key_for",), f'key_for "{raw}" is not a Metlo key type', hint))
        return None
    return str(raw)


def _api_key(entry: KeyEntry, out: KeyConfig) -> None:
    data = _fields(entry, KEY_FIELDS, out.problems)
    if data is None:
        return
    name = data.get("backend")
    backend = out.backends.get(name) if isinstance(name, str) else None
    if not isinstance(name, str):
        out.problems.append(entry.at(("backend",), "backend is required: the name of a key_backends entry"))
    elif backend is None and not any(p.path == f"key_backends.{name}" or (p.path or "").startswith(
            f"key_backends.{name}.") for p in out.problems):
        hint = did_you_mean(name, sorted(out.backends)) or "define it under key_backends:"
        out.problems.append(entry.at(("backend",), f"key backend {name} is not defined", hint))
    key_for = _key_for(entry, data.get("key_for"), backend, out.problems)
    rotate = _rotate_after(entry, data.get("rotate_after"), out.problems)
    out.entries[entry.name] = entry
    out.keys[entry.name] = DesiredKey(name=entry.name, backend=name if isinstance(name, str) else "",
                                      key_for=key_for, rotate_after_s=rotate, source=entry.where)


def read_keys(sources: list[Source], env: Mapping[str, str], variables: Mapping[str, Variable],
              lenient: bool = False) -> KeyConfig:
    """Both sections of every file, merged; problems collected, never raised."""
    out = KeyConfig()
    reader = Reader(env, variables, lenient)
    for entry in _entries(sources, "key_backends", out.problems):
        _backend(entry, reader, out)
    for entry in _entries(sources, "api_keys", out.problems):
        _api_key(entry, out)
    return out


def unconsumed(config: KeyConfig) -> list[Diagnostic]:
    """A key no consumer holds: its one-time secret would be lost (unless --secrets-out keeps it)."""
    return [config.entries[name].at((), f"api key {name} is used by nothing: its one-time secret would be lost",
                                    f"put ${{key.{name}.secret}} in a config vault's value, or pass --secrets-out FILE",
                                    key=True)
            for name, key in sorted(config.keys.items()) if not key.consumers]



def attach_consumers(config: KeyConfig, resources: list[Resource], keep_unconsumed: bool
                     ) -> tuple[tuple[DesiredKey, ...], list[Diagnostic]]:
    """Each key with the resources whose value holds it (so they are created after it); a key
    nobody holds is a problem unless its secret is written out (`keep_unconsumed`)."""
    users: dict[str, list[Address]] = {}
    for resource in resources:
        for name in keys_in(resource.secret):
            users.setdefault(name, []).append(resource.address)
    config.keys = {name: key.model_copy(update={"consumers": tuple(sorted(users.get(name, []), key=sort_key))})
                   for name, key in config.keys.items()}
    return tuple(config.keys.values()), [] if keep_unconsumed else unconsumed(config)
