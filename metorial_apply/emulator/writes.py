"""Per-kind create logic. Each function validates, resolves references and saves its records.

The generic handler calls these inside one store transaction, so a 4xx raised half-way
leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

from . import choices
from .errors import ApiError, invalid_field
from .references import (
    check_same_provider,
    effective_version,
    require_optional,
    require_provider,
    require_version,
    resolve_auth_method,
)
from .state import EmulatorState
from .store import Record
from .validation import FieldRule, check_body, check_secret_against, nested_body, normalized_schema

CONFIG_SOURCE_RULES = (
    FieldRule("name", "text"),
    FieldRule("value", "secret"),
    FieldRule("provider_config_vault_id", "id"),
)
CREDENTIALS_CONFIG_RULES = (
    FieldRule("type", "text"), FieldRule("client_id", "id", required=True),
    FieldRule("client_secret", "id", required=True), FieldRule("scopes", "strings", required=True),
)


def new_record(em: EmulatorState, kind: str, fields: dict[str, Any], refs: dict[str, str | None], **doc: Any) -> Record:
    """A fresh active record with the common fields (name, description, metadata, filters)."""
    now = em.store.now_iso()
    doc = {"metadata": fields.get("metadata") or {}, "tool_filters": fields.get("tool_filters", []), **doc}
    ident = em.store.new_id(em.registry[kind].prefix or "obj")
    return Record(ident, kind, "active", fields.get("name"), fields.get("description"), now, now, refs, doc)


def _one_source(fields: dict[str, Any], path: list[Any]) -> None:
    """Exactly one of `value` and `provider_config_vault_id`."""
    count = ("value" in fields) + ("provider_config_vault_id" in fields)
    if count != 1:
        where = path + (["value"] if count == 0 else ["provider_config_vault_id"])
        raise invalid_field(where, "invalid_union", "Provide exactly one of value or provider_config_vault_id")


def make_config(
    em: EmulatorState,
    provider_id: str,
    deployment: Record | None,
    fields: dict[str, Any],
    path: list[Any],
    is_default: bool = False,
    check: bool = True,
) -> Record:
    """A config from a value (checked against the provider's schema) or from a vault, which
    lends the config its deployment when none is given (choices.VAULT_LOCK_*)."""
    _one_source(fields, path)
    vault = require_optional(em, "vault", fields.get("provider_config_vault_id"))
    check_same_provider(provider_id, vault, path + ["provider_config_vault_id"])
    deployment = _vault_deployment(em, vault, deployment)
    version_id = effective_version(em, provider_id, deployment)
    spec = em.catalog.spec_for_version(version_id)
    if vault is None and check:
        check_secret_against(fields["value"], spec["config_schema"], path + ["value"])
    refs = {
        "provider_id": provider_id, "deployment_id": deployment.id if deployment else None,
        "vault_id": vault.id if vault else None, "specification_id": spec["id"], "version_id": version_id,
    }
    record = new_record(em, "config", fields, refs, is_default=is_default)
    record.secret = fields["value"] if vault is None else vault.secret
    em.store.save(record)
    return record


def _vault_deployment(em: EmulatorState, vault: Record | None, deployment: Record | None) -> Record | None:
    """The given deployment, else the vault's; 412 when the vault is bound to another one."""
    bound = vault.ref("deployment_id") if vault is not None else None
    if bound is None:
        return deployment
    if deployment is not None and deployment.id != bound:
        raise ApiError(choices.VAULT_LOCK_STATUS, choices.VAULT_LOCK_CODE, choices.VAULT_LOCK_MESSAGE)
    return deployment or em.store.get(bound)


def create_deployment(em: EmulatorState, body: dict[str, Any]) -> Record:
    fields = check_body(body, em.registry["deployment"].fields, patch=False)
    source = nested_body(body, "provider_config", CONFIG_SOURCE_RULES)
    provider = require_provider(em, fields["provider_id"])
    if source is not None and "provider_config_id" in fields:
        raise invalid_field(
            ["provider_config"], "invalid_union", "Provide at most one of provider_config_id or provider_config"
        )
    locked = fields.get("locked_provider_version_id")
    if locked:
        require_version(em, locked, provider["id"], ["locked_provider_version_id"])
    existing = require_optional(em, "config", fields.get("provider_config_id"))
    check_same_provider(provider["id"], existing, ["provider_config_id"])
    refs = {"provider_id": provider["id"], "version_id": locked or em.catalog.current_version[provider["id"]]}
    record = new_record(em, "deployment", fields, refs, is_default=False, locked_version_id=locked)
    if source is None and existing is None and normalized_schema(em.catalog.spec_for_version(
            str(refs["version_id"]))["config_schema"]) is None:
        source = {"value": {}}  # nothing to configure: an empty default config (choices, Objects)
    if source is not None:
        source = {**source, "metadata": dict(record.doc["metadata"])}
        source.setdefault("name", f"Default Config for {record.name or provider['name']}")
        existing = make_config(em, provider["id"], record, source, ["provider_config"], is_default=True)
    record.doc["default_config_id"] = existing.id if existing else None
    em.store.save(record)
    return record


def create_config(em: EmulatorState, body: dict[str, Any]) -> Record:
    fields = check_body(body, em.registry["config"].fields, patch=False)
    provider = require_provider(em, fields["provider_id"])
    deployment = require_optional(em, "deployment", fields.get("provider_deployment_id"))
    check_same_provider(provider["id"], deployment, ["provider_deployment_id"])
    return make_config(em, provider["id"], deployment, fields, [])


def create_vault(em: EmulatorState, body: dict[str, Any]) -> Record:
    fields = check_body(body, em.registry["vault"].fields, patch=False)
    provider = require_provider(em, fields["provider_id"])
    deployment = require_optional(em, "deployment", fields.get("provider_deployment_id"))
    check_same_provider(provider["id"], deployment, ["provider_deployment_id"])
    spec = em.catalog.spec_for_version(effective_version(em, provider["id"], deployment))
    check_secret_against(fields["value"], spec["config_schema"], ["value"])
    refs = {"provider_id": provider["id"], "deployment_id": deployment.id if deployment else None}
    record = new_record(em, "vault", fields, refs)
    record.doc.pop("tool_filters")
    record.secret = fields["value"]
    em.store.save(record)
    return record


def create_auth_config(em: EmulatorState, body: dict[str, Any]) -> Record:
    fields = check_body(body, em.registry["auth_config"].fields, patch=False)
    deployment = require_optional(em, "deployment", fields.get("provider_deployment_id"))
    provider_id = deployment.ref("provider_id") if deployment else None
    method = resolve_auth_method(em, fields["provider_auth_method_id"], provider_id)
    check_same_provider(method["provider_id"], deployment, ["provider_deployment_id"])
    check_secret_against(fields["value"], method["input_schema"]["schema"], ["value"])
    refs = {
        "provider_id": method["provider_id"], "deployment_id": deployment.id if deployment else None,
        "auth_method_id": method["id"], "specification_id": method["provider_specification_id"],
    }
    kind = choices.AUTH_CONFIG_TYPE_BY_METHOD.get(method["type"], "manual")
    record = new_record(em, "auth_config", fields, refs, type=kind, source="manual", is_default=False)
    record.secret = fields["value"]
    em.store.save(record)
    return record


def create_auth_credentials(em: EmulatorState, body: dict[str, Any]) -> Record:
    fields = check_body(body, em.registry["auth_credentials"].fields, patch=False)
    config = nested_body(body, "config", CREDENTIALS_CONFIG_RULES)
    if config is None:  # `config` is required on create; the credentials live inside it
        raise invalid_field(["config"], "required", "Required")
    if config.get("type", "oauth") != "oauth":
        raise invalid_field(["config", "type"], "invalid_literal", "Expected oauth")
    provider = require_provider(em, fields["provider_id"])
    method = em.catalog.oauth_method(provider["id"])
    if method is None:
        raise invalid_field(["provider_id"], "invalid_reference", "This provider has no OAuth auth method")
    refs = {"provider_id": provider["id"], "auth_method_id": method["id"] if method else None, "origin": "custom"}
    record = new_record(em, "auth_credentials", fields, refs, type="oauth", scopes=config["scopes"])
    record.doc.pop("tool_filters")
    record.secret = {"client_id": config["client_id"], "client_secret": config["client_secret"]}
    em.store.save(record)
    return record


def update_deployment(em: EmulatorState, record: Record, fields: dict[str, Any]) -> None:
    if "locked_provider_version_id" not in fields:
        return
    locked = fields["locked_provider_version_id"]
    provider_id = str(record.ref("provider_id"))
    if locked:
        require_version(em, locked, provider_id, ["locked_provider_version_id"])
    record.doc["locked_version_id"] = locked
    record.refs["version_id"] = locked or em.catalog.current_version[provider_id]

