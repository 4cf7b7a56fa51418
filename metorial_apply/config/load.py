"""YAML configuration → desired State: files, variables, interpolation, validation, references.

Every problem is collected in one pass and raised as one ConfigError, sorted by file and line.
Values from `${env:}`/`${file:}` and write-only fields are secret: they are kept out of every
message, and as a last guard any message that would contain one is redacted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from metorial_apply.config.bindings import inherit_vault_deployments, template_binding_problems
from metorial_apply.config.diagnostics import validation_diagnostics
from metorial_apply.config.directives import read_directives
from metorial_apply.config.files import config_files, file_reader
from metorial_apply.config.ignore import ignore_problems, ignored_fields
from metorial_apply.config.interpolate import Sources, Variable, interpolate_tree
from metorial_apply.config.keys import read_keys, unconsumed
from metorial_apply.config.redaction import redact
from metorial_apply.config.references import (
    RefProblem,
    Refs,
    check_targets,
    dependency_order,
    fill_providers,
    references_of,
)
from metorial_apply.config.sections import Entry, check_top_level, collect_entries, find_stack
from metorial_apply.config.variables import Source, collect_variables
from metorial_apply.config.yamlsource import YamlPath, diagnostic, read_yaml_file, value_at
from metorial_apply.core.errors import ConfigError, Diagnostic
from metorial_apply.core.model import Address, Resource, SecretValue
from metorial_apply.core.scrub import SECRETS
from metorial_apply.core.specs import YAML_TO_SPEC
from metorial_apply.core.state import State

__all__ = ["load_config", "sort_diagnostics"]


@dataclass
class Built:
    """One entry after interpolation and validation (resource is None when it failed)."""

    entry: Entry
    resource: Resource | None = None
    refs: list[tuple[YamlPath, Address]] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)


def _read(paths: Sequence[tuple[Path, str]], root: Path | None) -> tuple[list[Source], list[Diagnostic]]:
    sources, problems = [], []
    for real, display in paths:
        try:
            doc = read_yaml_file(str(real), display)
        except ConfigError as exc:
            problems += exc.diagnostics
            continue
        sources.append(Source(doc, file_reader(real, root or real.resolve().parent)))
    return sources, problems


def _strings(value: Any, path: YamlPath = (), skip: frozenset[YamlPath] = frozenset()) -> list[str]:
    """Every string inside `value`, except at the paths in `skip`."""
    if path in skip:
        return []
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, path + (k,), skip)]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, path + (i,), skip)]
    return [value] if isinstance(value, str) else []


def _resource(entry: Entry, model: Any, sensitive: set[YamlPath]) -> Resource:
    spec, secret = model.canonical(entry.name)
    fields = {YAML_TO_SPEC.get(str(p[0]), str(p[0])) for p in sensitive if p}
    pos = entry.source.doc.key_pos(entry.path)
    return Resource(
        address=Address(kind=entry.kind.kind, name=entry.name), spec=spec,
        secret=SecretValue(secret) if secret is not None else None,
        sensitive=frozenset(f for f in fields if f in spec), protect=bool(getattr(model, "protect", False)),
        ignore=ignored_fields(getattr(model, "ignore", [])), source=f"{pos.file}:{pos.line}",
    )


def _interpolate(entry: Entry, raw: dict[str, Any], sources: Sources, keys: Mapping[str, tuple[str, ...]]
                 ) -> tuple[dict[str, Any], set[YamlPath], list[tuple[YamlPath, Any]]]:
    """Interpolate an entry's fields; `${key.…}` only inside its write-only fields."""
    secret = {k: v for k, v in raw.items() if k in entry.kind.secret_fields}
    plain, sensitive, failures = interpolate_tree({k: v for k, v in raw.items() if k not in secret}, sources)
    filled, more, failed = interpolate_tree(secret, replace(sources, keys=keys))
    data = {k: (filled if k in secret else plain)[k] for k in raw}  # type: ignore[index]
    return data, sensitive | more, failures + failed


def build_entry(entry: Entry, env: Mapping[str, str], variables: Mapping[str, Variable], lenient: bool = False,
                keys: Mapping[str, tuple[str, ...]] | None = None) -> Built:
    """Interpolate and validate one entry into a Resource, collecting its problems (`lenient`: an
    absent secret is a warning, its reference standing in for the value; `keys`: the api keys
    `${key.NAME.PART}` may name)."""
    built, doc = Built(entry), entry.source.doc
    raw = {} if entry.data is None else entry.data
    if not isinstance(raw, dict):
        built.problems.append(diagnostic(doc.value_pos(entry.path), entry.path,
                                         f"a {entry.kind.kind} must be a mapping of fields, got {type(raw).__name__}"))
        return built
    data, sensitive, failures = _interpolate(entry, raw, Sources(env, variables, entry.source.read_file, lenient),
                                             keys or {})
    built.problems += [
        replace(diagnostic(doc.value_pos(entry.path + p), entry.path + p, e.message, e.hint), warning=lenient)
        for p, e in failures if e.absent and lenient
    ]
    failures = [(p, e) for p, e in failures if not (e.absent and lenient)]
    built.problems += [
        diagnostic(doc.value_pos(entry.path + p), entry.path + p, e.message, e.hint) for p, e in failures
    ]
    built.secrets += [s for p in sensitive for s in _strings(value_at(data, p))]
    failed = frozenset(p for p, _ in failures)  # still the raw `${…}` text there, which is no secret
    built.secrets += [s for f in entry.kind.secret_fields for s in _strings(data.get(f), (f,), failed)]
    try:
        model = entry.kind.model.model_validate(data)
    except ValidationError as exc:
        built.problems += validation_diagnostics(exc, entry, data, skip=failed)
        return built
    built.problems += ignore_problems(entry, getattr(model, "ignore", []))
    if not failures:
        built.resource = _resource(entry, model, sensitive)
        built.refs = references_of(built.resource, model.model_dump())
    return built


def _positioned(problems: list[RefProblem], entries: dict[Address, Entry]) -> list[Diagnostic]:
    out = []
    for p in problems:
        entry = entries[p.address]
        doc, full = entry.source.doc, entry.path + p.path
        pos = doc.value_pos(full) if p.path else doc.key_pos(full)
        out.append(diagnostic(pos, full, p.message, p.hint))
    return out


def link(built: list[Built]) -> tuple[list[Resource], list[Diagnostic]]:
    """Check references and cycles, and fill providers from referenced resources."""
    entries = {Address(kind=b.entry.kind.kind, name=b.entry.name): b.entry for b in built}
    resources = {b.resource.address: b.resource for b in built if b.resource}
    refs: Refs = {b.resource.address: b.refs for b in built if b.resource}
    problems = check_targets(resources, refs, declared=entries)
    order, cycles = dependency_order(resources, refs)
    filled, mismatches = fill_providers(resources, refs, order)
    filled, locks = inherit_vault_deployments(filled)
    bindings = template_binding_problems(filled, refs)
    return list(filled.values()), _positioned(problems + cycles + mismatches + locks + bindings, entries)


def sort_diagnostics(problems: Sequence[Diagnostic]) -> list[Diagnostic]:
    return sorted(problems, key=lambda d: (d.file or "", d.line or 0, d.column or 0, d.message))


REFERENCE = re.compile(r"\$\{(env|file):[^}]*\}")  # what stands in for an absent secret (lenient)


def load_config(path: Path, *, stack: str | None = None, variables: Mapping[str, str] = {},
                var_files: Sequence[Path] = (), env: Mapping[str, str] | None = None,
                warnings: list[Diagnostic] | None = None, secrets_out: bool = False,
                key_credentials: bool = True) -> State:
    """Read the configuration at `path` (a file or directory) into the desired State.

    Raises ConfigError carrying every problem found; `env` defaults to the process environment.
    With `warnings` (offline validate) an unset `${env:}` or a missing `${file:}` is appended
    there instead: the State then holds the reference where the secret would be. `secrets_out`:
    an api key nobody consumes is allowed (its secret goes to --secrets-out). Without
    `key_credentials` (plan) a key backend whose URL or credentials are unset is left unread.
    """
    lenient = warnings is not None
    env = dict(os.environ) if env is None else env
    files = config_files(Path(path))
    sources, problems = _read(files.files, files.root)
    complete = not problems
    var_sources, more = _read([(Path(p), str(p)) for p in var_files], None)
    problems += more + [d for s in sources for d in check_top_level(s)]
    values, more = collect_variables(sources, var_sources, variables, env, lenient)
    name, stack_problems = find_stack(sources, stack, env, values, complete=complete)
    entries, more2 = collect_entries(sources)
    keys = read_keys(sources, env, values, lenient, optional=not key_credentials)
    built = [build_entry(e, env, values, lenient, keys.parts()) for e in entries]
    resources, link_problems = link(built)
    unheld = [] if secrets_out or any(b.resource is None for b in built) else unconsumed(keys, resources)
    directives, more3 = read_directives(sources, {Address(kind=e.kind.kind, name=e.name) for e in entries},
                                        values, lenient)
    problems += more + stack_problems + more2 + [d for b in built for d in b.problems] + link_problems + more3
    problems += keys.problems + unheld
    secrets = [s for b in built for s in b.secrets] + [v.value for v in values.values() if v.sensitive] + keys.secrets
    if warnings is not None:  # a reference standing in for an absent secret is no secret: keep it readable
        secrets = [s for s in secrets if not REFERENCE.fullmatch(s)]
        warnings += sort_diagnostics(redact([p for p in problems if p.warning], secrets))
        problems = [p for p in problems if not p.warning]
    SECRETS.add(*secrets)  # every output of the run is scrubbed of them from here on (core/scrub.py)
    if problems or name is None:
        raise ConfigError(sort_diagnostics(redact(problems, secrets)) or [Diagnostic("no stack: given")])
    return State.of(name, resources, directives, api_keys=tuple(keys.keys.values()),
                    key_backends=tuple(keys.backends.values()))
