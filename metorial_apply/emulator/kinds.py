"""The kind registry: every per-kind difference the generic handler needs, as data.

Adding a kind means adding one `KindSpec`: its path, id prefix, object name, body fields
(create and update), list filters, cascade edges, serializer and create/update hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import serializers as ser
from . import templates, writes
from .choices import OBJECT_NAMES
from .state import EmulatorState
from .store import Record
from .validation import FieldRule as F

Resolver = Callable[[EmulatorState, str], str | None]


def _provider(em: EmulatorState, value: str) -> str | None:
    provider = em.catalog.provider(value)
    return provider["id"] if provider else None


def _deployment_spec(em: EmulatorState, value: str) -> str | None:
    record = em.store.get(value)
    if record is None or record.kind != "deployment":
        return None
    return str(em.catalog.versions[str(record.ref("version_id"))]["specification_id"])


def _config_spec(em: EmulatorState, value: str) -> str | None:
    record = em.store.get(value)
    return record.ref("specification_id") if record is not None and record.kind == "config" else None


@dataclass(frozen=True)
class KindSpec:
    key: str  # internal kind name, the `kind` column
    path: str  # URL path segment
    object: str  # the `object` field of responses
    serialize: Callable[[ser.Reader, Record], dict[str, Any]]
    prefix: str | None = None  # None for catalog kinds (ids come from the catalog)
    fields: tuple[F, ...] = ()
    filters: dict[str, tuple[str, Resolver | None]] = field(default_factory=dict)
    required_filters: tuple[str, ...] = ()
    create: Callable[[EmulatorState, dict[str, Any]], Record] | None = None
    update: Callable[[EmulatorState, Record, dict[str, Any]], None] | None = None
    cascade: tuple[tuple[str, str], ...] = ()  # (child kind, child column holding our id)

    @property
    def managed(self) -> bool:
        return self.prefix is not None


COMMON = (F("name", "text", update=True), F("description", "text", update=True), F("metadata", "object", update=True))
FILTERS = F("tool_filters", "tool_filters", update=True)
PROVIDER = ("provider_id", _provider)
# A template matches when any of its providers, archived ones included, matches (choices: Pagination).
ANY_PROVIDER = "id IN (SELECT template_id FROM objects WHERE kind = 'template_provider' AND {column} IN ({{}}))"
TEMPLATE_FILTERS: dict[str, tuple[str, Resolver | None]] = {
    "provider_id": (ANY_PROVIDER.format(column="provider_id"), _provider),
    **{f"provider_{name}_id": (ANY_PROVIDER.format(column=f"{name}_id"), None)
       for name in ("deployment", "config", "auth_config")},
}

MANAGED = (
    KindSpec(
        "deployment", "provider-deployments", "provider.deployment", ser.deployment, "pde",
        (F("provider_id", "id", required=True), *COMMON, FILTERS, F("locked_provider_version_id", "id", update=True),
         F("provider_config_id", "id")),
        # Locked deployments only: the engine filters on the locked version (choices: Pagination).
        {"provider_id": PROVIDER, "provider_version_id": ("json_extract(doc, '$.locked_version_id')", None)},
        create=writes.create_deployment, update=writes.update_deployment,
        cascade=(("config", "deployment_id"), ("vault", "deployment_id"), ("auth_config", "deployment_id"),
                 ("template_provider", "deployment_id")),
    ),
    KindSpec(
        "config", "provider-configs", "provider.config", ser.config, "pcf",
        (F("provider_id", "id", required=True), F("provider_deployment_id", "id"), *COMMON, FILTERS,
         F("value", "secret"), F("provider_config_vault_id", "id")),
        {"provider_id": PROVIDER, "provider_deployment_id": ("deployment_id", None),
         "provider_config_vault_id": ("vault_id", None), "provider_specification_id": ("specification_id", None)},
        create=writes.create_config, cascade=(("template_provider", "config_id"),),
    ),
    KindSpec(
        "vault", "provider-config-vaults", "provider.config_vault", ser.config_vault, "pcvt",
        (F("provider_id", "id", required=True), F("name", "text", required=True, update=True),
         F("value", "secret", required=True), F("provider_deployment_id", "id"),
         F("description", "text", update=True), F("metadata", "object", update=True)),
        {"provider_id": PROVIDER, "provider_deployment_id": ("deployment_id", None)},
        create=writes.create_vault, cascade=(("config", "vault_id"),),
    ),
    KindSpec(
        "auth_config", "provider-auth-configs", "provider.auth_config", ser.auth_config, "pac",
        (F("provider_auth_method_id", "id", required=True), F("value", "secret", required=True),
         F("provider_deployment_id", "id"), *COMMON, FILTERS),
        {"provider_id": PROVIDER, "provider_deployment_id": ("deployment_id", None),
         "provider_auth_method_id": ("auth_method_id", None), "provider_auth_credentials_id": ("credentials_id", None)},
        create=writes.create_auth_config,
        cascade=(("template_provider", "auth_config_id"),),  # choices.py, Cascades
    ),
    KindSpec(
        "auth_credentials", "provider-auth-credentials", "provider.auth_credentials", ser.auth_credentials,
        "par",  # the engine's prefix, undocumented on the public API (choices.py, Ids)
        # The client fields are read on PATCH (the public API takes them) but never applied: the
        # engine keeps name, description and metadata only (choices.py, Auth credentials).
        (F("provider_id", "id", required=True), *COMMON, F("client_id", "id", create=False, update=True),
         F("client_secret", "id", create=False, update=True), F("scopes", "strings", create=False, update=True)),
        {"provider_id": PROVIDER, "provider_auth_method_id": ("auth_method_id", None), "origin": ("origin", None)},
        create=writes.create_auth_credentials,
    ),
    KindSpec(
        "session_template", "session-templates", OBJECT_NAMES["session_template"], ser.session_template, "set",
        (F("name", "text", required=True, update=True), F("description", "text", update=True),
         F("metadata", "object", update=True)),
        TEMPLATE_FILTERS, create=templates.create_session_template, cascade=(("template_provider", "template_id"),),
    ),
    KindSpec(
        "template_provider", "session-template-providers", OBJECT_NAMES["template_provider"],
        ser.template_provider, "stp",
        (F("session_template_id", "id", required=True), *templates.PROVIDER_RULES[:-1], FILTERS),
        {"session_template_id": ("template_id", None), "provider_id": PROVIDER,
         "provider_deployment_id": ("deployment_id", None), "provider_config_id": ("config_id", None),
         "provider_auth_config_id": ("auth_config_id", None)},
        create=templates.create_template_provider,
    ),
)

CATALOG = (
    KindSpec("provider", "providers", "provider", ser.catalog_object),
    KindSpec("version", "provider-versions", "provider.version", ser.catalog_object, filters={"provider_id": PROVIDER}),
    KindSpec(
        "specification",
        "provider-specifications",
        "provider.specification",
        ser.catalog_object,
        filters={
            "provider_id": PROVIDER,
            "provider_version_id": ("version_id", None),
            "provider_deployment_id": ("specification_id", _deployment_spec),
            "provider_config_id": ("specification_id", _config_spec),
        },
    ),
    KindSpec(
        "auth_method",
        "provider-auth-methods",
        OBJECT_NAMES["auth_method"],
        ser.catalog_object,
        filters={"provider_version_id": ("version_id", None), "provider_id": PROVIDER},
        required_filters=("provider_version_id",),
    ),
    KindSpec(
        "tool",
        "provider-tools",
        "provider.tool",
        ser.catalog_object,
        filters={"provider_version_id": ("version_id", None), "provider_id": PROVIDER},
        required_filters=("provider_version_id",),
    ),
)

REGISTRY: dict[str, KindSpec] = {spec.key: spec for spec in MANAGED + CATALOG}
BY_PATH: dict[str, KindSpec] = {spec.path: spec for spec in MANAGED + CATALOG}
MANAGED_KINDS: tuple[str, ...] = tuple(spec.key for spec in MANAGED)
CATALOG_KINDS: tuple[str, ...] = tuple(spec.key for spec in CATALOG)


def serialize(reader: ser.Reader, record: Record) -> dict[str, Any]:
    """`record` as the API returns it, by its kind's serializer (one list may mix kinds)."""
    return REGISTRY[record.kind].serialize(reader, record)
