"""The provider catalog for people (`metorial-apply catalog`): every provider in one list, or
one provider's versions, auth methods, config schema and tools. Read-only, so a publishable key
is enough (the catalog is public); what the API sends is checked for shape, never trusted."""

from __future__ import annotations

import asyncio
from difflib import get_close_matches
from typing import Any

from metorial_apply.api.catalog import PROVIDERS, SPECIFICATIONS, VERSIONS, unwrap_schema
from metorial_apply.api.client import MetorialClient
from metorial_apply.core.errors import UsageError
from metorial_apply.core.provider import AuthMethod, Field, ProviderDetail, ProviderSummary, Tool


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def summary_of(provider: dict[str, Any]) -> ProviderSummary:
    current = provider.get("current_version")
    version = _text(current.get("version")) if isinstance(current, dict) else ""
    return ProviderSummary(slug=_text(provider.get("slug")) or _text(provider.get("id")),
                           name=_text(provider.get("name")), identifier=_text(provider.get("identifier")),
                           id=_text(provider.get("id")), current_version=version or None)


async def list_providers(client: MetorialClient) -> list[ProviderSummary]:
    """Every provider of the catalog, sorted by slug."""
    return sorted((summary_of(p) for p in await client.list_all(PROVIDERS)), key=lambda s: (s.slug, s.id))


def schema_fields(raw: Any) -> tuple[Field, ...]:
    """The properties of a JSON Schema (bare, or in the API's `{type: json_schema, schema}` envelope)."""
    raw = unwrap_schema(raw)
    if raw is None or not isinstance(raw.get("properties"), dict):
        return ()
    required = {r for r in raw.get("required") or [] if isinstance(r, str)}
    fields = []
    for name, spec in sorted(raw["properties"].items()):
        spec = spec if isinstance(spec, dict) else {}
        kind = spec.get("type")
        fields.append(Field(name=str(name), type=kind if isinstance(kind, str) else "", required=name in required,
                            description=_text(spec.get("description"))))
    return tuple(fields)


def _methods(spec: dict[str, Any]) -> tuple[AuthMethod, ...]:
    methods = [m for m in spec.get("auth_methods") or [] if isinstance(m, dict) and isinstance(m.get("key"), str)]
    return tuple(AuthMethod(key=m["key"], type=_text(m.get("type")), name=_text(m.get("name")),
                            fields=schema_fields(m.get("input_schema"))) for m in methods)


def _tools(spec: dict[str, Any]) -> tuple[Tool, ...]:
    tools = [t for t in spec.get("tools") or [] if isinstance(t, dict) and isinstance(t.get("key"), str)]
    return tuple(sorted((Tool(key=t["key"], name=_text(t.get("name"))) for t in tools), key=lambda t: t.key))


def _find(providers: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for provider in providers:
        if name in (provider.get("slug"), provider.get("id"), provider.get("identifier")):
            return provider
    slugs = sorted(_text(p.get("slug")) for p in providers)
    close = get_close_matches(name, slugs, n=1)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    raise UsageError(f'the catalog has no provider "{name}"{hint} (`metorial-apply catalog` lists them)')


async def describe_provider(client: MetorialClient, name: str) -> ProviderDetail:
    """One provider by slug, id or identifier: 1 + ceil(P/100) + 2 calls."""
    provider = _find(await client.list_all(PROVIDERS), name)
    current = provider.get("current_version")
    version_id = current.get("id") if isinstance(current, dict) else None
    versions_call = client.list_all(VERSIONS, {"provider_id": provider["id"]})
    if isinstance(version_id, str):
        versions, specs = await asyncio.gather(
            versions_call, client.list_all(SPECIFICATIONS, {"provider_version_id": version_id}))
    else:
        versions, specs = await versions_call, []
    spec = specs[0] if specs and isinstance(specs[0], dict) else {}
    return ProviderDetail(
        summary=summary_of(provider), description=_text(provider.get("description")),
        versions=tuple(v["version"] for v in versions if isinstance(v, dict) and isinstance(v.get("version"), str)),
        auth_methods=_methods(spec), config_fields=schema_fields(spec.get("config_schema")), tools=_tools(spec))
