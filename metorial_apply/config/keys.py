"""`api_keys:` → DesiredKey values (and `key_backends:` through config/backends.py), every problem
at its YAML line; a key nothing consumes is an error unless its secret is written out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metorial_apply.config.backends import Backends, KeyEntry, entries, fields, read_backends
from metorial_apply.config.interpolate import Variable
from metorial_apply.config.sections import did_you_mean
from metorial_apply.config.variables import Source
from metorial_apply.core.errors import Diagnostic
from metorial_apply.core.keys import KEY_PARTS, KEY_TYPES, DesiredKey, KeyBackend, consumed
from metorial_apply.core.model import Resource

KEY_FIELDS = ("backend", "key_for", "rotate_after")
ROTATE = re.compile(r"([1-9][0-9]{0,5})([dhm])")
UNITS = {"d": 86400, "h": 3600, "m": 60}
ALL_PARTS = ("secret", "client_id", "identifier")


@dataclass
class KeyConfig(Backends):
    """Both sections as read; `entries` keeps each api key's entry for later diagnostics."""

    keys: dict[str, DesiredKey] = field(default_factory=dict)
    entries: dict[str, KeyEntry] = field(default_factory=dict)

    def parts(self) -> dict[str, tuple[str, ...]]:
        """Key name → the parts `${key.NAME.PART}` may name (all of them when the backend is unknown)."""
        return {name: KEY_PARTS.get(self.backends[k.backend].type, ALL_PARTS) if k.backend in self.backends
                else ALL_PARTS for name, k in self.keys.items()}


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
    data = fields(entry, KEY_FIELDS, out.problems)
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
              lenient: bool = False, *, optional: bool = False) -> KeyConfig:
    """Both sections of every file, merged; problems collected, never raised (`optional`: see read_backends)."""
    out = KeyConfig()
    read_backends(sources, env, variables, lenient, out, optional=optional)
    for entry in entries(sources, "api_keys", out.problems):
        _api_key(entry, out)
    return out


def unconsumed(config: KeyConfig, resources: list[Resource]) -> list[Diagnostic]:
    """A key no resource's value holds: its one-time secret would be lost (unless --secrets-out keeps it)."""
    return [config.entries[name].at((), f"api key {name} is used by nothing: its one-time secret would be lost",
                                    f"put ${{key.{name}.secret}} in a config vault's value, or pass --secrets-out FILE",
                                    key=True)
            for name in sorted(config.keys.keys() - consumed(resources))]
