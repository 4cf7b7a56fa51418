"""`key_backends:` → KeyBackend: the APIs that api keys live on (Metlo, Metal), where each is and
the credentials it takes, every problem at its YAML line; and what both key sections share.

A backend's credentials are sent only to a URL the pipeline's owner chose: `local`, a literal
URL whose host is listed in METORIAL_APPLY_KEY_HOSTS, or `${env:NAME}` (the whole value, without
a default) where NAME is listed in METORIAL_APPLY_KEY_URL_VARS. Otherwise a pull request could
point `url:` at its own server, or at a variable its author controls (in merge-request
pipelines the commit and MR titles are variables), and collect the admin key from the plan job.
Credentials themselves must come from `${env:}` or `${file:}`: one written in the YAML would be
committed. `plan` reads them as optional: a backend whose URL or credentials are unset (or empty)
there is not read (`readable` False) and its keys are planned from the stack index, so a
pull-request plan job needs no admin key of any backend; `apply` reads every backend.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from metorial_apply.config.interpolate import InterpolationError, Sources, Variable, interpolate
from metorial_apply.config.sections import did_you_mean, section_entries
from metorial_apply.config.variables import Source
from metorial_apply.config.yamlsource import YamlPath, diagnostic
from metorial_apply.core.errors import Diagnostic
from metorial_apply.core.keys import BACKEND_TYPES, KeyBackend
from metorial_apply.core.model import SecretValue

HOSTS_ENV = "METORIAL_APPLY_KEY_HOSTS"
URL_VARS_ENV = "METORIAL_APPLY_KEY_URL_VARS"
BACKEND_FIELDS = ("type", "url", "api_key", "client_id")
CREDENTIALS = {"metlo": ("api_key",), "metal": ("api_key", "client_id")}
ENV_ONLY = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
URL_HINT = (f"use url: local, a literal URL whose host is listed in {HOSTS_ENV}, or url: ${{env:NAME}} with NAME "
            f"listed in {URL_VARS_ENV}")


@dataclass(frozen=True)
class KeyEntry:
    """One entry of `key_backends:` or `api_keys:` as written."""

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
class Backends:
    """`key_backends:` as read, with every problem and every credential value (for redaction)."""

    backends: dict[str, KeyBackend] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)


def entries(sources: list[Source], section: str, problems: list[Diagnostic]) -> list[KeyEntry]:
    found, more = section_entries(sources, section, section.removesuffix("s").replace("_", " "))
    problems += more
    return [KeyEntry(section, name, data, source) for name, data, source in found]


def fields(entry: KeyEntry, allowed: tuple[str, ...], problems: list[Diagnostic]) -> dict[str, Any] | None:
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
    optional: bool = False  # plan: a backend without its URL or credentials is left unread

    def url(self, entry: KeyEntry, raw: Any) -> tuple[str, str] | Diagnostic:
        """(url, where it was set) or the problem with it."""
        if not isinstance(raw, str) or not raw:
            return entry.at(("url",), "url is required: a string", URL_HINT)
        if raw == "local":
            return "local", "local"
        env_ref = ENV_ONLY.fullmatch(raw)
        if env_ref:
            name = env_ref.group(1)
            if name not in self.allowed(URL_VARS_ENV, fold=False):
                return entry.at(("url",), f"the variable {name} is not listed in {URL_VARS_ENV}: a key backend's "
                                "URL comes only from a variable the pipeline's owner names (others, like commit "
                                "titles, may be set by a pull request's author)",
                                f"export {URL_VARS_ENV}={name} in the pipeline's settings, if {name} is set there")
            if name not in self.env:
                return entry.at(("url",), f"environment variable {name} is not set", f"export {name}")
            return self.env[name], f"env:{name}"
        if "${" in raw:
            return entry.at(("url",), "url must be one whole ${env:NAME} (no default, nothing around it)", URL_HINT)
        host = (urlsplit(raw).hostname or "").lower()
        if not host or host not in self.allowed(HOSTS_ENV, fold=True):
            return entry.at(("url",), f'the key backend host "{host}" is not listed in {HOSTS_ENV}: the backend\'s '
                            "credentials are only sent to a URL set outside the YAML", URL_HINT)
        return raw, HOSTS_ENV

    def allowed(self, setting: str, *, fold: bool) -> frozenset[str]:
        """A comma-separated allow-list from the environment (host names fold case; variable names do not)."""
        words = (w.strip() for w in self.env.get(setting, "").split(","))
        return frozenset(w.lower() if fold else w for w in words if w)

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


def _present(entry: KeyEntry, reader: Reader, raw: Any, out: Backends) -> bool:
    """Whether a credential's `${env:}`/`${file:}` is at hand and not empty (its value then joins
    the run's secrets). A malformed one counts as present: the full check reports it."""
    if not isinstance(raw, str) or not raw:
        return True
    try:
        found = interpolate(raw, Sources(reader.env, reader.variables, entry.source.read_file, True))
    except InterpolationError:
        return True
    if found.absent or not found.value:
        return False
    out.secrets.append(found.value)
    return True


def _unset(entry: KeyEntry, reader: Reader, data: dict[str, Any], kind: str, out: Backends) -> bool:
    """plan: is the backend's URL variable or one of its credentials unset or empty? Then nothing
    is sent to it (its keys come from the stack index) and its URL is not checked either."""
    raw = data.get("url")
    env_url = ENV_ONLY.fullmatch(raw) if isinstance(raw, str) else None
    needed = [n for n in CREDENTIALS[kind] if n in data or raw != "local"]
    present = [_present(entry, reader, data.get(n), out) for n in needed]  # every one, for the scrubber
    return not all(present) or (env_url is not None and not reader.env.get(env_url.group(1)))


def _backend(entry: KeyEntry, reader: Reader, out: Backends) -> None:
    data = fields(entry, BACKEND_FIELDS, out.problems)
    if data is None:
        return
    kind = data.get("type")
    if kind not in BACKEND_TYPES:
        hint = did_you_mean(str(kind), BACKEND_TYPES) or "types are: " + ", ".join(BACKEND_TYPES)
        out.problems.append(entry.at(("type",), "type is required: metlo or metal" if kind is None
                                     else f'unknown key backend type "{kind}"', hint))
        return
    if reader.optional and _unset(entry, reader, data, kind, out):
        out.backends[entry.name] = KeyBackend(name=entry.name, type=kind, source=entry.where, readable=False)
        return
    url = reader.url(entry, data.get("url"))
    if isinstance(url, Diagnostic):
        out.problems.append(url)
        return
    creds: dict[str, SecretValue | None] = {}
    needed = CREDENTIALS[kind]
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


def read_backends(sources: list[Source], env: Mapping[str, str], variables: Mapping[str, Variable],
                  lenient: bool, out: Backends, *, optional: bool = False) -> None:
    """Every `key_backends:` entry of every file into `out`; problems collected, never raised.
    `optional` (plan): a backend whose URL or credentials are not at hand is left unread."""
    reader = Reader(env, variables, lenient, optional)
    for entry in entries(sources, "key_backends", out.problems):
        _backend(entry, reader, out)
