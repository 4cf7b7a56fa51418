"""Objects as the API returns them, built from stored records at read time.

Related objects (a config's deployment preview, a template's providers) are looked up when
serializing, as the real API joins them, so a rename shows everywhere at once. `Reader`
memoizes lookups within one response. Secrets live in `Record.secret`, which no serializer
reads.
"""

from __future__ import annotations

from typing import Any

from . import choices
from .state import EmulatorState
from .store import Record
from .toolfilters import output_form


class Reader:
    """Per-response lookup cache over the store and catalog."""

    def __init__(self, emulator: EmulatorState) -> None:
        self.emulator = emulator
        self.catalog = emulator.catalog
        self._cache: dict[str, Record | None] = {}

    def get(self, ident: str | None) -> Record | None:
        if ident is None:
            return None
        if ident not in self._cache:
            self._cache[ident] = self.emulator.store.get(ident)
        return self._cache[ident]


def _common(record: Record, obj: str) -> dict[str, Any]:
    return {
        "object": obj, "id": record.id, "status": record.status, "name": record.name,
        "description": record.description, "metadata": record.doc.get("metadata", {}),
    }


def _stamps(record: Record) -> dict[str, str]:
    return {"created_at": record.created_at, "updated_at": record.updated_at}


def deployment_preview(record: Record | None) -> dict[str, Any] | None:
    if record is None:
        return None
    common = _common(record, "provider.deployment" + choices.PREVIEW_SUFFIX)
    del common["status"]  # previews carry no status (the SDK's preview types have none)
    return {
        **common,
        "is_default": record.doc.get("is_default", False),
        "provider_id": record.ref("provider_id"),
        **_stamps(record),
    }


def config_preview(record: Record | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "object": "provider.config" + choices.PREVIEW_SUFFIX,
        "id": record.id,
        "is_default": record.doc.get("is_default", False),
        "provider_id": record.ref("provider_id"),
        "name": record.name,
        "description": record.description,
        "metadata": record.doc.get("metadata", {}),
        **_stamps(record),
    }


def catalog_object(reader: Reader, record: Record) -> dict[str, Any]:
    return record.doc


def deployment(reader: Reader, record: Record) -> dict[str, Any]:
    locked = record.doc.get("locked_version_id")
    return {
        **_common(record, "provider.deployment"), "is_default": record.doc.get("is_default", False),
        "tool_filter": output_form(record.doc.get("tool_filters", [])), "provider_id": record.ref("provider_id"),
        "locked_version": reader.catalog.versions.get(locked) if locked else None,
        "default_config": config_preview(reader.get(record.doc.get("default_config_id"))), **_stamps(record),
    }


def config(reader: Reader, record: Record) -> dict[str, Any]:
    vault = reader.get(record.ref("vault_id"))
    return {
        **_common(record, "provider.config"), "is_default": record.doc.get("is_default", False),
        "tool_filter": output_form(record.doc.get("tool_filters", [])), "provider_id": record.ref("provider_id"),
        "specification_id": record.ref("specification_id"),
        "deployment": deployment_preview(reader.get(record.ref("deployment_id"))),
        "from_vault": config_vault(reader, vault) if vault else None, **_stamps(record),
    }


def config_vault(reader: Reader, record: Record) -> dict[str, Any]:
    return {
        **_common(record, "provider.config_vault"), "provider_id": record.ref("provider_id"),
        "deployment": deployment_preview(reader.get(record.ref("deployment_id"))), **_stamps(record),
    }


def auth_config(reader: Reader, record: Record) -> dict[str, Any]:
    credentials = reader.get(record.ref("credentials_id"))
    return {
        **_common(record, "provider.auth_config"), "type": record.doc["type"], "source": record.doc["source"],
        "is_default": record.doc.get("is_default", False), "provider_id": record.ref("provider_id"),
        "tool_filter": output_form(record.doc.get("tool_filters", [])),
        "auth_method": reader.catalog.methods[record.ref("auth_method_id")],
        "deployment": deployment_preview(reader.get(record.ref("deployment_id"))),
        "credentials": auth_credentials(reader, credentials) if credentials else None, **_stamps(record),
    }


def auth_credentials(reader: Reader, record: Record) -> dict[str, Any]:
    common = _common(record, "provider.auth_credentials")
    return {
        "object": common.pop("object"), "id": common.pop("id"), "type": record.doc.get("type", "oauth"),
        "status": common.pop("status"), "is_default": False, "is_managed": record.ref("origin") == "managed",
        "provider_id": record.ref("provider_id"), **common, "scopes": record.doc.get("scopes", []), **_stamps(record),
    }


def session_template(reader: Reader, record: Record) -> dict[str, Any]:
    store = reader.emulator.store
    if record.status == "active":
        providers = store.select("kind = 'template_provider' AND template_id = ? AND status = 'active'", [record.id])
    else:  # an archived template shows the providers its delete archived
        rows = store.select("kind = 'template_provider' AND template_id = ?", [record.id])
        providers = [p for p in rows if p.doc.get("archived_by") == record.id]
    return {
        **_common(record, choices.OBJECT_NAMES["session_template"]),
        "providers": [template_provider(reader, p) for p in providers],
        "integration_instance_id": None, "integration_instance_group_id": None,
        "identity_actor_id": None, "identity_id": None, **_stamps(record),
    }


def template_provider(reader: Reader, record: Record) -> dict[str, Any]:
    auth_config_id = record.ref("auth_config_id")
    return {
        "object": choices.OBJECT_NAMES["template_provider"],
        "id": record.id,
        "status": record.status,
        "tool_filter": output_form(record.doc.get("tool_filters", [])),
        "provider_id": record.ref("provider_id"),
        "session_template_id": record.ref("template_id"),
        "deployment": deployment_preview(reader.get(record.ref("deployment_id"))),
        "config": config_preview(reader.get(record.ref("config_id"))),
        "auth_config": {"object": "provider.auth_config" + choices.PREVIEW_SUFFIX, "id": auth_config_id}
        if auth_config_id
        else None,
        **_stamps(record),
    }
