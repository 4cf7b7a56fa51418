"""Session templates and their providers: piece resolution, the 100-provider cap, tools."""

from __future__ import annotations

from typing import Any

from . import choices
from .errors import ApiError, field_problem, invalid_field
from .references import require, require_optional
from .state import EmulatorState
from .store import Record
from .toolfilters import allows_tool
from .validation import FieldRule, check_body, normalized_schema
from .writes import make_config, new_record

PIECES = ("provider_deployment_id", "provider_config_id", "provider_config_vault_id", "provider_auth_config_id")
PIECE_KINDS = dict(zip(PIECES, ("deployment", "config", "vault", "auth_config"), strict=False))
PROVIDER_RULES = tuple(FieldRule(p, "id") for p in PIECES) + (FieldRule("tool_filters", "tool_filters"),)


def _domain_error(code: str, message: str, path: list[Any]) -> ApiError:
    return ApiError(400, code, message, entity="body", errors=[field_problem(path, "custom", message)])


def _pieces(em: EmulatorState, fields: dict[str, Any], path: list[Any]) -> dict[str, Record | None]:
    """The referenced pieces, all active and of one provider."""
    pieces = {name: require_optional(em, PIECE_KINDS[name], fields.get(name)) for name in PIECES}
    given = {name: r for name, r in pieces.items() if r is not None}
    if not given:
        raise _domain_error(choices.TEMPLATE_PROVIDER_EMPTY_CODE, choices.TEMPLATE_PROVIDER_EMPTY_MESSAGE, path)
    if len({r.ref("provider_id") for r in given.values()}) > 1:
        raise _domain_error(choices.PROVIDER_MISMATCH_CODE, choices.PROVIDER_MISMATCH_MESSAGE, path)
    return pieces


def _deployment_for(em: EmulatorState, pieces: dict[str, Record | None], provider_id: str, path: list[Any]) -> Record:
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


def _check_deployment(deployment: Record, provider_id: str, pieces: dict[str, Record | None], path: list[Any]) -> None:
    """A deployment of another provider, or a config / auth config bound to another deployment."""
    bound = [pieces[n] for n in ("provider_config_id", "provider_auth_config_id") if pieces[n] is not None]
    if deployment.ref("provider_id") != provider_id or any(
        r.ref("deployment_id") not in (None, deployment.id) for r in bound
    ):
        raise _domain_error(choices.DEPLOYMENT_MISMATCH_CODE, choices.DEPLOYMENT_MISMATCH_MESSAGE, path)


def has_required_config(schema: Any) -> bool:
    """providerCombination.ts's test, kept exactly (see choices: CONFIG_REQUIRED_*)."""
    schema = normalized_schema(schema)
    if not schema:
        return False
    return not (schema.get("type") == "object" and schema.get("properties") and not schema.get("required"))


def _default_config(em: EmulatorState, deployment: Record, spec: dict[str, Any], path: list[Any]) -> Record:
    """The deployment's default config, else a new empty one when the schema requires nothing."""
    default = em.store.get(deployment.doc.get("default_config_id") or "")
    if default is not None and default.status == "active":
        return default
    if has_required_config(spec["config_schema"]):
        raise _domain_error(choices.CONFIG_REQUIRED_CODE, choices.CONFIG_REQUIRED_MESSAGE, path)
    provider = em.catalog.providers[str(deployment.ref("provider_id"))]
    inner = deployment.name or provider["name"]
    name = f"Default Config for {provider['name'] if 'Default ' in inner else inner}"
    fields = {"name": name, "description": choices.DEFAULT_CONFIG_DESCRIPTION, "value": {}}
    config = make_config(em, provider["id"], deployment, fields, path, is_default=True, check=False)
    deployment.doc["default_config_id"] = config.id
    em.store.save(deployment)
    return config


def _auth_config(spec: dict[str, Any], auth_config: Record | None, path: list[Any]) -> Record | None:
    """An auth config is needed exactly when the version has auth methods (no default exists)."""
    if auth_config is None and spec["auth_methods"]:
        raise _domain_error(choices.AUTH_CONFIG_REQUIRED_CODE, choices.AUTH_CONFIG_REQUIRED_MESSAGE, path)
    if auth_config is not None and not spec["auth_methods"]:
        raise _domain_error("bad_request", "Provider does not support auth configs", path)
    return auth_config


def _check_cap(em: EmulatorState, template: Record, path: list[Any]) -> None:
    """Counted after the pieces resolve, as the engine counts (choices: MAX_TEMPLATE_PROVIDERS)."""
    active = em.store.count("kind = 'template_provider' AND template_id = ? AND status = 'active'", [template.id])
    if active >= choices.MAX_TEMPLATE_PROVIDERS:
        message = choices.TEMPLATE_PROVIDER_LIMIT_MESSAGE.format(limit=choices.MAX_TEMPLATE_PROVIDERS)
        raise _domain_error(choices.TEMPLATE_PROVIDER_LIMIT_CODE, message, path)


def add_template_provider(em: EmulatorState, template: Record, fields: dict[str, Any], path: list[Any]) -> Record:
    pieces = _pieces(em, fields, path)
    provider_id = str(next(r for r in pieces.values() if r is not None).ref("provider_id"))
    deployment = _deployment_for(em, pieces, provider_id, path)
    _check_deployment(deployment, provider_id, pieces, path)
    spec = em.catalog.spec_for_version(str(deployment.ref("version_id")))
    config, vault = pieces["provider_config_id"], pieces["provider_config_vault_id"]
    if config is None and vault is not None:
        config = make_config(
            em, provider_id, deployment, {"provider_config_vault_id": vault.id, "name": vault.name}, path
        )
    config = config or _default_config(em, deployment, spec, path)
    auth_config = _auth_config(spec, pieces["provider_auth_config_id"], path)
    _check_cap(em, template, path)
    refs = {
        "provider_id": provider_id, "template_id": template.id, "deployment_id": deployment.id,
        "config_id": config.id, "auth_config_id": auth_config.id if auth_config else None,
    }
    record = new_record(em, "template_provider", fields, refs)
    record.doc.pop("metadata")
    em.store.save(record)
    return record


def create_template_provider(em: EmulatorState, body: dict[str, Any]) -> Record:
    fields = check_body(body, em.registry["template_provider"].fields, patch=False)
    template = require(em, "session_template", fields["session_template_id"])
    return add_template_provider(em, template, fields, [])


def create_session_template(em: EmulatorState, body: dict[str, Any]) -> Record:
    fields = check_body(body, em.registry["session_template"].fields, patch=False)
    record = new_record(em, "session_template", fields, {})
    record.doc.pop("tool_filters")
    em.store.save(record)
    providers = body.get("providers")
    if providers is None:
        return record
    if not isinstance(providers, list):
        raise invalid_field(["providers"], "invalid_type", "Expected array")
    if len(providers) > choices.MAX_TEMPLATE_PROVIDERS:  # sessionProviderInput.ts, before resolving
        message = f"Cannot associate more than {choices.MAX_TEMPLATE_PROVIDERS} providers to a session"
        raise _domain_error(choices.TEMPLATE_PROVIDER_LIMIT_CODE, message, ["providers"])
    for index, entry in enumerate(providers):
        if not isinstance(entry, dict):
            raise invalid_field(["providers", index], "invalid_type", "Expected object")
        entry_fields = check_body(entry, PROVIDER_RULES, patch=False, prefix=["providers", index])
        add_template_provider(em, record, entry_fields, ["providers", index])
    return record


def template_tools(em: EmulatorState, template: Record) -> list[dict[str, Any]]:
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
