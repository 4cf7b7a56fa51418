"""Session templates and their providers: piece resolution, the 100-provider cap, tools."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .choices import (
    MAX_TEMPLATE_PROVIDERS,
    PROVIDER_MISMATCH_CODE,
    PROVIDER_MISMATCH_MESSAGE,
    TEMPLATE_PROVIDER_EMPTY_MESSAGE,
    TEMPLATE_PROVIDER_LIMIT_CODE,
)
from .errors import ApiError, field_problem, invalid_field
from .references import require, require_optional
from .store import Record
from .toolfilters import allows_tool
from .validation import FieldRule, check_body
from .writes import make_config, new_record

if TYPE_CHECKING:
    from .runtime import Emulator

PIECES = ("provider_deployment_id", "provider_config_id", "provider_config_vault_id", "provider_auth_config_id")
PIECE_KINDS = dict(zip(PIECES, ("deployment", "config", "vault", "auth_config"), strict=False))
PROVIDER_RULES = tuple(FieldRule(p, "id") for p in PIECES) + (FieldRule("tool_filters", "tool_filters"),)


def _domain_error(code: str, message: str, path: list[Any]) -> ApiError:
    return ApiError(400, code, message, entity="body", errors=[field_problem(path, "custom", message)])


def _pieces(em: Emulator, fields: dict[str, Any], path: list[Any]) -> dict[str, Record | None]:
    """The referenced pieces, all active and of one provider."""
    pieces = {name: require_optional(em, PIECE_KINDS[name], fields.get(name)) for name in PIECES}
    given = {name: r for name, r in pieces.items() if r is not None}
    if not given:
        raise _domain_error("invalid_data", TEMPLATE_PROVIDER_EMPTY_MESSAGE, path)
    if len({r.ref("provider_id") for r in given.values()}) > 1:
        raise _domain_error(PROVIDER_MISMATCH_CODE, PROVIDER_MISMATCH_MESSAGE, path)
    return pieces


def _deployment_for(em: Emulator, pieces: dict[str, Record | None], provider_id: str, path: list[Any]) -> Record:
    """The given deployment, else one a piece hangs on, else the provider's default deployment."""
    if pieces["provider_deployment_id"] is not None:
        return pieces["provider_deployment_id"]
    for piece in pieces.values():
        owner = em.store.get(piece.ref("deployment_id")) if piece is not None and piece.ref("deployment_id") else None
        if owner is not None and owner.status == "active":
            return owner
    defaults = em.store.select(
        "kind = 'deployment' AND provider_id = ? AND status = 'active' AND json_extract(doc, '$.is_default') = 1",
        [provider_id], limit=1,
    )
    if not defaults:
        raise invalid_field(
            path + ["provider_deployment_id"], "required", "No deployment could be resolved for this provider"
        )
    return defaults[0]


def add_template_provider(em: Emulator, template: Record, fields: dict[str, Any], path: list[Any]) -> Record:
    active = em.store.count("kind = 'template_provider' AND template_id = ? AND status = 'active'", [template.id])
    if active >= MAX_TEMPLATE_PROVIDERS:
        raise _domain_error(
            TEMPLATE_PROVIDER_LIMIT_CODE,
            f"A session template can have at most {MAX_TEMPLATE_PROVIDERS} providers",
            path,
        )
    pieces = _pieces(em, fields, path)
    provider_id = str(next(r for r in pieces.values() if r is not None).ref("provider_id"))
    deployment = _deployment_for(em, pieces, provider_id, path)
    config = pieces["provider_config_id"]
    vault = pieces["provider_config_vault_id"]
    if config is None and vault is not None:
        config = make_config(
            em, provider_id, deployment, {"provider_config_vault_id": vault.id, "name": vault.name}, path
        )
    if config is None and deployment.doc.get("default_config_id"):
        default = em.store.get(deployment.doc["default_config_id"])
        config = default if default is not None and default.status == "active" else None
    auth_config = pieces["provider_auth_config_id"]
    refs = {
        "provider_id": provider_id, "template_id": template.id, "deployment_id": deployment.id,
        "config_id": config.id if config else None, "auth_config_id": auth_config.id if auth_config else None,
    }
    record = new_record(em, "template_provider", fields, refs)
    record.doc.pop("metadata")
    em.store.save(record)
    return record


def create_template_provider(em: Emulator, body: dict[str, Any]) -> Record:
    fields = check_body(body, em.registry["template_provider"].fields, patch=False)
    template = require(em, "session_template", fields["session_template_id"])
    return add_template_provider(em, template, fields, [])


def create_session_template(em: Emulator, body: dict[str, Any]) -> Record:
    fields = check_body(body, em.registry["session_template"].fields, patch=False)
    record = new_record(em, "session_template", fields, {})
    record.doc.pop("tool_filters")
    em.store.save(record)
    providers = body.get("providers")
    if providers is None:
        return record
    if not isinstance(providers, list):
        raise invalid_field(["providers"], "invalid_type", "Expected array")
    for index, entry in enumerate(providers):
        if not isinstance(entry, dict):
            raise invalid_field(["providers", index], "invalid_type", "Expected object")
        entry_fields = check_body(entry, PROVIDER_RULES, patch=False, prefix=["providers", index])
        add_template_provider(em, record, entry_fields, ["providers", index])
    return record


def template_tools(em: Emulator, template: Record) -> list[dict[str, Any]]:
    """Tools of the template's active providers, narrowed by deployment then provider filters."""
    providers = em.store.select("kind = 'template_provider' AND template_id = ? AND status = 'active'", [template.id])
    tools: dict[str, dict[str, Any]] = {}
    for provider in providers:
        deployment = em.store.get(str(provider.ref("deployment_id")))
        if deployment is None:
            continue
        spec = em.catalog.specs[em.catalog.versions[str(deployment.ref("version_id"))]["specification_id"]]
        chain = (deployment.doc.get("tool_filters", []), provider.doc.get("tool_filters", []))
        for tool in spec["tools"]:
            if all(allows_tool(rules, tool["key"]) for rules in chain):
                tools.setdefault(tool["id"], tool)
    return list(tools.values())
