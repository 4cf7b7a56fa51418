"""The read-only provider catalog, built from `catalog_data.json` with deterministic ids.

The catalog never changes while the emulator runs, so its objects are serialized once: the
same dicts feed the SQL rows (for generic, filterable lists) and the in-memory indexes that
validation and serializers use for lookups without a query.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from . import choices
from .store import Record, base62

DATA_FILE = Path(__file__).with_name("catalog_data.json")


def catalog_id(prefix: str, index: int, natural_key: str) -> str:
    """Same input, same id, across restarts and machines; sorted in catalog order."""
    digest = int(hashlib.sha256(f"{prefix}:{natural_key}".encode()).hexdigest(), 16)
    return f"{prefix}_{base62(index, 10)}{base62(digest % 62**6, 6)}"


class Catalog:
    """Serialized catalog objects plus the indexes lookups need."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.providers: dict[str, dict[str, Any]] = {}
        self.names: dict[str, str] = {}  # id, slug and identifier → provider id
        self.versions: dict[str, dict[str, Any]] = {}
        self.current_version: dict[str, str] = {}  # provider id → version id
        self.specs: dict[str, dict[str, Any]] = {}
        self.methods: dict[str, dict[str, Any]] = {}
        self.tools: dict[str, dict[str, Any]] = {}
        self.raw_schema: dict[str, dict[str, Any]] = {}  # provider id → its config JSON Schema
        self._counters: dict[str, int] = {}
        self._stamps = {"created_at": choices.CATALOG_TIMESTAMP, "updated_at": choices.CATALOG_TIMESTAMP}
        publisher = self._publisher(data["publisher"])
        for entry in data["providers"]:
            self._add_provider(entry, publisher, data["oauth_callback_url"])

    def _next_id(self, prefix: str, natural_key: str) -> str:
        self._counters[prefix] = self._counters.get(prefix, 0) + 1
        return catalog_id(prefix, self._counters[prefix], natural_key)

    def _publisher(self, entry: dict[str, Any]) -> dict[str, Any]:
        ident = self._next_id("ppub", entry["name"])
        return {"object": "provider.publisher", "id": ident, **entry, **self._stamps}

    def _add_provider(self, entry: dict[str, Any], publisher: dict[str, Any], callback: str) -> None:
        provider_id = self._next_id("pro", entry["slug"])
        self.raw_schema[provider_id] = entry["config_schema"]
        has_oauth = any(m["type"] == "oauth" for m in entry["auth_methods"])
        current = None
        for version_entry in entry["versions"]:
            version = self._add_version(provider_id, entry, version_entry)
            if version_entry.get("current"):
                current = version
                self.current_version[provider_id] = version["id"]
        oauth = {"status": "enabled", "auto_registration": {"status": "disabled"}, "callback_url": callback}
        self.providers[provider_id] = {
            "object": "provider", "id": provider_id, "access": "public", "status": "active",
            "identifier": entry["identifier"], "name": entry["name"], "slug": entry["slug"],
            "description": entry["description"], "metadata": {}, "publisher": publisher,
            "current_version": current, "oauth": oauth if has_oauth else None, **self._stamps,
        }
        for name in (provider_id, entry["slug"], entry["identifier"]):
            self.names[name] = provider_id

    def _add_version(self, provider_id: str, entry: dict[str, Any], version_entry: dict[str, Any]) -> dict[str, Any]:
        key = f"{entry['slug']}@{version_entry['version']}"
        version_id = self._next_id("prv", key)
        spec_id = self._next_id("psp", key)
        version = {
            "object": "provider.version", "id": version_id, "version": version_entry["version"],
            "provider_id": provider_id, "is_current": bool(version_entry.get("current")),
            "name": f"{entry['name']} {version_entry['version']}", "description": entry["description"],
            "metadata": {}, "specification_id": spec_id, **self._stamps,
        }
        self.versions[version_id] = version
        excluded = set(version_entry.get("exclude_tools", []))
        tools = [self._tool(t, provider_id, spec_id, key) for t in entry["tools"] if t["key"] not in excluded]
        methods = [self._method(m, provider_id, spec_id, key) for m in entry["auth_methods"]]
        self.specs[spec_id] = {
            "object": "provider.specification",
            "id": spec_id,
            "key": key,
            "name": version["name"],
            "description": entry["description"],
            "config_schema": entry["config_schema"],
            "config_visibility": choices.CONFIG_VISIBILITY,
            "tools": tools,
            "tool_categories": [
                {"object": "provider.tool_category", "key": c["key"], "name": c["name"],
                 "tool_count": sum(c["key"] in t["tool_category_keys"] for t in tools)}
                for c in entry["tool_categories"]
            ],
            "auth_methods": methods,
            "provider_id": provider_id,
            "version_id": version_id,
            **self._stamps,
        }
        return version

    def _tool(self, entry: dict[str, Any], provider_id: str, spec_id: str, key: str) -> dict[str, Any]:
        tool = {
            "object": "provider.tool", "id": self._next_id("pto", f"{key}:{entry['key']}"), "key": entry["key"],
            "name": entry["name"], "description": entry["description"], "capabilities": {},
            "constraints": [], "instructions": list(entry.get("instructions", [])),
            "tool_category_keys": [entry["category"]],
            "specification_id": spec_id, "provider_id": provider_id,
            "input_schema": {"type": "json_schema", "schema": entry["input_schema"]}, "output_schema": None,
            "tags": {"destructive": entry["destructive"], "read_only": entry["read_only"]}, **self._stamps,
        }
        self.tools[tool["id"]] = tool
        return tool

    def _method(self, entry: dict[str, Any], provider_id: str, spec_id: str, key: str) -> dict[str, Any]:
        method_key = f"{key}:{entry['key']}"
        scopes = [
            {"object": choices.OBJECT_NAMES["auth_method_scope"],
             "id": self._next_id("pasc", f"{method_key}:{s['scope']}"), **s}
            for s in entry["scopes"]
        ]
        method = {
            "object": choices.OBJECT_NAMES["auth_method"], "id": self._next_id("pam", method_key),
            "type": entry["type"],
            "key": entry["key"], "name": entry["name"], "description": entry["description"],
            "capabilities": {"refresh": entry["type"] == "oauth"}, "provider_id": provider_id,
            "provider_specification_id": spec_id,
            "input_schema": {"type": "json_schema", "schema": entry["input_schema"]}, "output_schema": None,
            "scopes": scopes, "adapters": [], **self._stamps,
        }
        self.methods[method["id"]] = method
        return method

    # --- lookups -----------------------------------------------------------------------------

    def provider(self, ref: str | None) -> dict[str, Any] | None:
        """A provider by id, slug or identifier."""
        provider_id = self.names.get(ref) if isinstance(ref, str) else None
        return None if provider_id is None else self.providers[provider_id]

    def spec_for_version(self, version_id: str) -> dict[str, Any]:
        return self.specs[self.versions[version_id]["specification_id"]]

    def current_spec(self, provider_id: str) -> dict[str, Any]:
        return self.spec_for_version(self.current_version[provider_id])

    def methods_by_key(self, key: str, provider_id: str | None) -> list[dict[str, Any]]:
        """Current-version methods with this key, of one provider or of all."""
        providers = [provider_id] if provider_id else list(self.providers)
        return [m for p in providers for m in self.current_spec(p)["auth_methods"] if m["key"] == key]

    def oauth_method(self, provider_id: str) -> dict[str, Any] | None:
        return next((m for m in self.current_spec(provider_id)["auth_methods"] if m["type"] == "oauth"), None)

    def needs_config(self, provider_id: str) -> bool:
        return bool(self.raw_schema[provider_id].get("required"))

    def records(self) -> list[Record]:
        """Rows for the store; `spec` rows carry their version so specs filter by version."""
        rows = [_row("provider", p, {}) for p in self.providers.values()]
        rows += [
            _row("version", v, {"provider_id": v["provider_id"], "specification_id": v["specification_id"]})
            for v in self.versions.values()
        ]
        for spec in self.specs.values():
            refs = {
                "provider_id": spec["provider_id"],
                "version_id": spec["version_id"],
                "specification_id": spec["id"],
            }
            rows.append(_row("specification", {k: v for k, v in spec.items() if k != "version_id"}, refs))
            rows += [_row("auth_method", m, refs) for m in spec["auth_methods"]]
            rows += [_row("tool", t, refs) for t in spec["tools"]]
        return rows


def _row(kind: str, obj: dict[str, Any], refs: dict[str, str]) -> Record:
    return Record(
        id=obj["id"], kind=kind, status="active", name=obj.get("name"), description=obj.get("description"),
        created_at=obj["created_at"], updated_at=obj["updated_at"], refs=refs, doc=obj,
    )


def load_catalog(path: Path = DATA_FILE) -> Catalog:
    return Catalog(json.loads(path.read_text(encoding="utf-8")))
