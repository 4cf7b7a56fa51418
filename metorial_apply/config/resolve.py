"""Desired state against the provider catalog: provider, auth method and version names become
canonical (slug, method key, version string), providers of referenced resources are compared
canonically, and secret values are checked against the catalog's JSON Schemas.

Pure: the catalog is fetched by the caller. Schema errors name the failing path and rule and
never the value (jsonschema's own messages quote the instance, so they are not used).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema

from metorial_apply.config.placement import placed
from metorial_apply.config.predict import predicted_problems
from metorial_apply.config.references import RefProblem, dependency_order, fill_providers, references_of, shown
from metorial_apply.config.sections import did_you_mean
from metorial_apply.core.errors import ConfigError, Diagnostic
from metorial_apply.core.kinds import KINDS
from metorial_apply.core.model import Catalog, CatalogProvider, Resource
from metorial_apply.core.state import State


def _at(resource: Resource, path: str, message: str, hint: str | None = None) -> Diagnostic:
    file, _, line = (resource.source or "").rpartition(":")
    kind = KINDS[resource.address.kind]
    return Diagnostic(message=message, file=file or None, line=int(line) if line.isdigit() else None,
                      path=".".join(p for p in (kind.section, resource.address.name, path) if p), hint=hint)


def _choices(found: str, choices: list[str], what: str) -> str:
    return did_you_mean(found, choices) or (f"{what}: " + ", ".join(choices) if choices else f"no {what}")


def _canonical_names(resource: Resource, catalog: Catalog) -> tuple[Resource, list[Diagnostic]]:
    spec = dict(resource.spec)
    provider_ref = spec.get("provider")
    if not isinstance(provider_ref, str):
        return resource, []
    provider = catalog.find(provider_ref)
    if provider is None:
        hint = None if "provider" in resource.sensitive else _choices(provider_ref, catalog.slugs(), "providers")
        return resource, [
            _at(resource, "provider", f"unknown provider {shown(resource, ('provider',), provider_ref)}", hint)
        ]
    spec["provider"] = provider.slug
    problems = []
    for field, table, what in (
        ("method", provider.auth_methods, "auth methods"),
        ("version", provider.versions, "versions"),
    ):
        value = spec.get(field)
        if not isinstance(value, str):
            continue
        by_id = {v: k for k, v in table.items()}
        if value in table or value in by_id:
            spec[field] = by_id.get(value, value)
        else:
            hint = None if field in resource.sensitive else _choices(value, sorted(table), f"{provider.slug} {what}")
            named = shown(resource, (field,), value)
            problems.append(_at(resource, field, f"provider {provider.slug} has no {field} {named}", hint))
    return resource.model_copy(update={"spec": spec}), problems


def _rule(error: jsonschema.ValidationError) -> tuple[str, str | None]:
    """A message for one schema failure built from the rule and schema only, never the instance."""
    rule, expected, instance = error.validator, error.validator_value, error.instance
    if rule == "required" and isinstance(instance, dict):
        missing = [k for k in expected if k not in instance]
        return "missing required key " + ", ".join(f'"{k}"' for k in missing), None
    if rule == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(error.schema.get("properties") or {})
        extra = [k for k in instance if k not in allowed]
        return "unknown key " + ", ".join(f'"{k}"' for k in extra), (
            "allowed keys: " + ", ".join(allowed)
        ) if allowed else None
    words = {"type": "must be of type {}", "minLength": "must be at least {} characters long",
             "maxLength": "must be at most {} characters long", "enum": "must be one of {}",
             "pattern": "must match the pattern {}", "minimum": "must be at least {}", "maximum": "must be at most {}"}
    if rule in words:
        return words[rule].format(expected), None
    return f"does not satisfy the schema's {rule} rule", None


def _schema_for(resource: Resource, provider: CatalogProvider) -> dict[str, Any] | None:
    which = KINDS[resource.address.kind].value_schema
    if which == "config":
        return provider.config_schema
    if which == "auth_method":
        return provider.auth_method_schemas.get(str(resource.spec.get("method")))
    return None


def _value_problems(resource: Resource, catalog: Catalog) -> Iterator[Diagnostic]:
    provider = catalog.find(str(resource.spec.get("provider")))
    schema = _schema_for(resource, provider) if provider and resource.secret is not None else None
    if not schema:
        return
    try:
        validator = jsonschema.validators.validator_for(schema)(schema)
        errors = sorted(validator.iter_errors(resource.secret.reveal()), key=lambda e: list(map(str, e.absolute_path)))
    except jsonschema.exceptions.SchemaError:
        return  # the provider's schema is broken; the API is the judge then
    for error in errors:
        message, hint = _rule(error)
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        yield _at(resource, "value" + path, message, hint)


def resolve_names(desired: State, catalog: Catalog, *, predict: bool = True) -> State:
    """Canonicalize provider/method/version names against the catalog and check secret values;
    with `predict`, also what the API would refuse (config/predict.py, assuming no live defaults).

    Raises ConfigError with every unknown name, provider mismatch and schema failure.
    """
    problems: list[Diagnostic] = []
    resolved: dict = {}
    for resource in desired:
        fixed, found = _canonical_names(resource, catalog)
        resolved[fixed.address], problems = fixed, problems + found
    problems = _once_per_provider(problems)
    refs = {a: references_of(r) for a, r in resolved.items()}
    order, _ = dependency_order(resolved, refs)
    resolved, mismatches = fill_providers(resolved, refs, order, canonical=True)
    problems += [_at(resolved[p.address], _dotted(p), p.message, p.hint) for p in mismatches]
    # Values of resources whose names resolved are checked even when others failed: one pass.
    problems += [d for r in resolved.values() for d in _value_problems(r, catalog)]
    state = desired.with_resources(list(resolved.values()))
    problems += predicted_problems(state, catalog) if predict else []
    if problems:
        raise ConfigError(sorted(placed(problems), key=lambda d: (d.file or "", d.line or 0, d.column or 0,
                                                                  d.path or "", d.message)))
    return state


def _once_per_provider(problems: list[Diagnostic]) -> list[Diagnostic]:
    """An unknown provider once (where it is first declared), not again on every config and auth
    config that takes it from a deployment."""
    seen: set[str] = set()
    out: list[Diagnostic] = []
    for d in problems:
        if d.message.startswith("unknown provider "):
            if d.message in seen:
                continue
            seen.add(d.message)
        out.append(d)
    return out


def _dotted(problem: RefProblem) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem.path).lstrip(".")
