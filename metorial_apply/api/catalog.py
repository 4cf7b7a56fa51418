"""The read-only provider catalog, fetched once per command and reduced to what naming needs.

Calls: ceil(P/100) pages of `/providers` (read from both ends, api/ends.py: about ceil(P/200)
+ 1 of them in a row, for a call or two more), then for each provider that needs detail, at once:
ceil(V/100) pages of `/provider-versions?provider_id=` plus one page of
`/provider-specifications?provider_version_id=<current>`, whose object carries both the
config schema and the auth methods (ids and keys). So 1 + 2·P calls for P providers with
under 100 versions each, instead of 3·P with separate auth-method and config-schema calls.
`detail_for` limits the detail to the providers a config names: against a catalog of
hundreds of providers this keeps a plan to a handful of calls. The whole provider list is still
read (it can be filtered only by id and search, and deletes and "did you mean" need slugs the
configuration does not name). So the phase takes the provider list's pages in a row, then one
round trip more for the details of every named provider at once (more only for a provider of
over 100 versions, or a specification without its auth methods).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

from metorial_apply.api.client import MetorialClient
from metorial_apply.core.model import Catalog, CatalogProvider

PROVIDERS = "/providers"
VERSIONS = "/provider-versions"
SPECIFICATIONS = "/provider-specifications"
AUTH_METHODS = "/provider-auth-methods"


async def fetch_catalog(client: MetorialClient, *, detail_for: Collection[str] | None = None) -> Catalog:
    """All providers; versions, auth methods and config schema for those in `detail_for`
    (matched by id, slug or identifier; None = every provider). Sorted by slug."""
    providers = await client.list_ends(PROVIDERS)
    wanted = [p for p in providers if detail_for is None or _named(p, detail_for)]
    details = await asyncio.gather(*(_detail(client, p) for p in wanted))
    by_id = {p["id"]: d for p, d in zip(wanted, details, strict=False)}
    entries = [_provider(p, by_id.get(p["id"], {})) for p in providers]
    return Catalog(providers=tuple(sorted(entries, key=lambda e: (e.slug, e.id))))


def _named(provider: dict[str, Any], names: Collection[str]) -> bool:
    return any(provider.get(k) in names for k in ("id", "slug", "identifier"))


def _current_version_id(provider: dict[str, Any]) -> str | None:
    current = provider.get("current_version")
    return current.get("id") if isinstance(current, dict) else None


async def _detail(client: MetorialClient, provider: dict[str, Any]) -> dict[str, Any]:
    """Versions, auth methods and config schema of one provider (two calls, concurrently)."""
    current = _current_version_id(provider)
    versions_call = client.list_all(VERSIONS, {"provider_id": provider["id"]})
    if current is None:
        return {"versions": await versions_call}
    versions, specs = await asyncio.gather(
        versions_call, client.list_all(SPECIFICATIONS, {"provider_version_id": current}),
    )
    spec = specs[0] if specs else {}
    methods = spec.get("auth_methods")
    if not isinstance(methods, list):  # a specification without embedded methods: ask for them
        methods = await client.list_all(AUTH_METHODS, {"provider_version_id": current})
    tools = spec.get("tools")
    keys = tuple(sorted({t["key"] for t in tools if isinstance(t, dict) and isinstance(t.get("key"), str)})) \
        if isinstance(tools, list) else None
    return {"versions": versions, "methods": methods, "schema": unwrap_schema(spec.get("config_schema")), "tools": keys}


def unwrap_schema(raw: Any) -> dict[str, Any] | None:
    """A JSON Schema, unwrapped from the API's `{type: "json_schema", schema: {…}}` envelope if wrapped."""
    if isinstance(raw, dict) and raw.get("type") == "json_schema" and isinstance(raw.get("schema"), dict):
        return raw["schema"]
    return raw if isinstance(raw, dict) else None


def _provider(provider: dict[str, Any], detail: dict[str, Any]) -> CatalogProvider:
    versions = {v["version"]: v["id"] for v in detail.get("versions", []) if v.get("version") and v.get("id")}
    listed = [m for m in detail.get("methods", []) if m.get("key") and m.get("id")]
    methods = {m["key"]: m["id"] for m in listed}
    schemas = {m["key"]: schema for m in listed if (schema := unwrap_schema(m.get("input_schema"))) is not None}
    return CatalogProvider(
        id=provider["id"],
        slug=provider.get("slug") or provider["id"],
        identifier=provider.get("identifier") or provider.get("slug") or provider["id"],
        name=provider.get("name") or provider.get("slug") or provider["id"],
        current_version_id=_current_version_id(provider),
        versions=dict(sorted(versions.items())),
        auth_methods=dict(sorted(methods.items())),
        config_schema=detail.get("schema"),
        auth_method_schemas=dict(sorted(schemas.items())),
        tools=detail.get("tools"),
    )
