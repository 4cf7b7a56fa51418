"""The generic handler: route matching and list/get/create/update/delete for every kind.

Everything kind-specific comes from the `KindSpec` registry entry. Writes run entirely
inside one store transaction without awaiting, so concurrent requests cannot interleave.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from . import choices
from .errors import ApiError, field_problem, gone, invalid_data, not_found
from .kinds import BY_PATH, KindSpec, serialize
from .listing import Query, parse_list_query, run_list
from .references import require_provider
from .runtime import Emulator
from .serializers import Reader
from .store import Record
from .templates import template_tools
from .validation import check_body

SCHEMA_SOURCES = ("provider_id", "provider_deployment_id", "provider_version_id", "provider_config_id")


@dataclass(frozen=True)
class Route:
    template: str  # e.g. "PATCH /provider-configs/{id}", the key of the call counters
    action: str  # list | get | create | update | delete | config_schema | tools
    spec: KindSpec | None = None
    ident: str | None = None

    @property
    def is_write(self) -> bool:
        return self.action in ("create", "update", "delete")

    def needs_secret_key(self, query: Query) -> bool:
        """Publishable keys may read the catalog only."""
        if self.action == "config_schema":
            return any(query.get(n) for n in ("provider_deployment_id", "provider_config_id"))
        return self.spec is None or self.spec.managed or self.is_write


_ACTIONS = {
    ("GET", 1): "list",
    ("POST", 1): "create",
    ("GET", 2): "get",
    ("PATCH", 2): "update",
    ("DELETE", 2): "delete",
}


def match_route(method: str, path: str) -> Route | None:
    parts = [p for p in path.split("/") if p]
    if parts == ["provider-config-schema"] and method == "GET":
        return Route("GET /provider-config-schema", "config_schema")
    if len(parts) == 3 and parts[0] == "session-templates" and parts[2] == "tools" and method == "GET":
        return Route("GET /session-templates/{id}/tools", "tools", BY_PATH["session-templates"], parts[1])
    spec = BY_PATH.get(parts[0]) if parts else None
    action = _ACTIONS.get((method, len(parts)))
    if spec is None or action is None or (not spec.managed and action not in ("list", "get")):
        return None
    suffix = "/{id}" if len(parts) == 2 else ""
    return Route(f"{method} /{spec.path}{suffix}", action, spec, parts[1] if len(parts) == 2 else None)


def execute(em: Emulator, route: Route, query: Query, body: dict[str, Any]) -> dict[str, Any]:
    """Run one API call; returns the JSON body of a 200. Raises ApiError."""
    if route.action == "config_schema":
        return config_schema(em, query)
    spec = route.spec
    assert spec is not None
    if route.action == "list":
        return list_objects(em, spec, query)
    if route.action == "get":
        return serialize(Reader(em), _get(em, spec, str(route.ident)))
    if route.action == "tools":
        template = _get(em, spec, str(route.ident))
        return {"object": "list", "items": template_tools(em, template)}
    with em.store.transaction():
        record = _write(em, route, spec, body)
    if route.action == "delete":
        _cascade_later_or_now(em, spec, record)
    return serialize(Reader(em), em.store.get(record.id) or record)


def _write(em: Emulator, route: Route, spec: KindSpec, body: dict[str, Any]) -> Record:
    if route.action == "create":
        assert spec.create is not None
        return spec.create(em, body)
    record = _get(em, spec, str(route.ident))
    if record.status != "active":
        raise gone(spec.object, record.id)
    if route.action == "update":
        _update(em, spec, record, body)
    else:
        _check_archivable(spec, record)
        _archive(em, record, None)
        if em.cascade_delay_ms <= 0:
            cascade(em, spec, record)
    return record


def _check_archivable(spec: KindSpec, record: Record) -> None:
    """An object an integration provider uses cannot be archived (choices.INTEGRATION_ARCHIVE_REFUSALS)."""
    linked = record.doc.get("integration_provider_id")
    refusal = choices.INTEGRATION_ARCHIVE_REFUSALS.get(spec.key)
    if linked and refusal is not None:
        raise ApiError(400, refusal[0], refusal[1], data={"id": record.id, "integration_provider_id": linked})


def _get(em: Emulator, spec: KindSpec, ident: str) -> Record:
    record = em.store.get(ident)
    if record is None or record.kind != spec.key:
        raise not_found(spec.object, ident)
    return record


def list_objects(em: Emulator, spec: KindSpec, query: Query) -> dict[str, Any]:
    q = parse_list_query(em, spec, query)
    records, before, after = run_list(em, q)
    reader = Reader(em)
    return {
        "object": "list", "items": [serialize(reader, r) for r in records],
        "pagination": {"has_more_before": before, "has_more_after": after},
    }


def _update(em: Emulator, spec: KindSpec, record: Record, body: dict[str, Any]) -> None:
    """PATCH: absent or null leaves a field; text is stored as sent (choices: PATCH); metadata is
    replaced wholesale."""
    fields = check_body(body, spec.fields, patch=True)
    keeps_old = spec.key in choices.BLANK_TEXT_KEEPS_OLD  # `text?.trim() || existing`
    for name in ("name", "description"):
        if name in fields and not (keeps_old and fields[name] is None):
            setattr(record, name, _patched_text(spec, body[name], fields[name]))
    if _march_reset(em, spec, fields):
        fields["tool_filters"] = []
    for name in ("metadata", "tool_filters"):
        if name in fields:
            record.doc[name] = fields[name]
    if spec.update is not None:
        spec.update(em, record, fields)
    record.updated_at = em.store.now_iso()
    em.store.save(record)


def _patched_text(spec: KindSpec, raw: Any, trimmed: str | None) -> str | None:
    """Only the kinds whose update trims get the trimmed text; a blank is kept as null."""
    if spec.key in choices.PATCH_TRIMS or not isinstance(raw, str) or raw == "":
        return trimmed
    return raw


def _march_reset(em: Emulator, spec: KindSpec, fields: dict[str, Any]) -> bool:
    """The March engine's deployment PATCH without `tool_filters` resets them (choices: PATCH)."""
    return (em.faults.settings.patch_resets_tool_filters and spec.key in choices.MARCH_RESET_KINDS
            and "tool_filters" not in fields)


def _archive(em: Emulator, record: Record, cause: str | None) -> None:
    record.status = "archived"
    record.updated_at = em.store.now_iso()
    if cause is not None:
        record.doc["archived_by"] = cause
    em.store.save(record)


def cascade(em: Emulator, spec: KindSpec, record: Record) -> None:
    """Archive, transitively, the active objects bound to `record` (the registry's edges)."""
    for child_kind, column in spec.cascade:
        children = em.store.select(f"kind = ? AND {column} = ? AND status = 'active'", [child_kind, record.id])
        for child in children:
            _archive(em, child, record.id)
            cascade(em, em.registry[child_kind], child)


def _cascade_later_or_now(em: Emulator, spec: KindSpec, record: Record) -> None:
    """With `cascade_delay_ms`, the cascade runs later on the loop, as the real API's is async."""
    if em.cascade_delay_ms <= 0 or not spec.cascade:
        return
    loop = asyncio.get_running_loop()

    def run() -> None:
        em.pending_cascades.discard(handle)
        with em.store.transaction():
            cascade(em, spec, record)

    handle = loop.call_later(em.cascade_delay_ms / 1000.0, run)
    em.pending_cascades.add(handle)


def config_schema(em: Emulator, query: Query) -> dict[str, Any]:
    given = [(n, query[n][-1]) for n in SCHEMA_SOURCES if query.get(n)]
    if len(given) != 1:
        message = "Provide exactly one of " + ", ".join(SCHEMA_SOURCES)
        raise invalid_data([field_problem([SCHEMA_SOURCES[0]], "invalid_union", message)], entity="query")
    name, value = given[0]
    spec = _schema_spec(em, name, value)
    return {
        "object": choices.OBJECT_NAMES["config_schema"], "visibility": spec["config_visibility"],
        "specification_id": spec["id"],
        "provider_id": spec["provider_id"], "schema": {"type": "json_schema", "schema": spec["config_schema"]},
        "created_at": spec["created_at"], "updated_at": spec["updated_at"],
    }


def _schema_spec(em: Emulator, name: str, value: str) -> dict[str, Any]:
    catalog = em.catalog
    if name == "provider_id":
        return catalog.current_spec(require_provider(em, value)["id"])
    if name == "provider_version_id":
        if value not in catalog.versions:
            raise not_found("provider.version", value)
        return catalog.spec_for_version(value)
    kind = "deployment" if name == "provider_deployment_id" else "config"
    record = _get(em, em.registry[kind], value)
    if kind == "config":
        return catalog.specs[str(record.ref("specification_id"))]
    return catalog.spec_for_version(str(record.ref("version_id")))
