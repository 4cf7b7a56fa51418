"""Resolving referenced ids in request bodies: existence, activity, provider agreement."""

from __future__ import annotations

from typing import Any

from . import choices
from .errors import ApiError, field_problem, invalid_field, not_found, use_after_delete
from .state import EmulatorState
from .store import Record


def require(em: EmulatorState, kind: str, ident: str) -> Record:
    """An active stored object of `kind`: 404 when unknown, 400 use_after_delete when archived."""
    spec = em.registry[kind]
    record = em.store.get(ident)
    if record is None or record.kind != kind:
        raise not_found(spec.object, ident)
    if record.status != "active":
        raise use_after_delete(spec.object, ident)
    return record


def require_optional(em: EmulatorState, kind: str, ident: str | None) -> Record | None:
    return None if ident is None else require(em, kind, ident)


def require_provider(em: EmulatorState, ref: str) -> dict[str, Any]:
    """A catalog provider by id, identifier or slug."""
    provider = em.catalog.provider(ref)
    if provider is None:
        raise not_found("provider", ref)
    return provider


def require_version(em: EmulatorState, version_id: str, provider_id: str, path: list[Any]) -> dict[str, Any]:
    """A version that exists (404) and belongs to the provider (400)."""
    version = em.catalog.versions.get(version_id)
    if version is None:
        raise not_found("provider.version", version_id)
    if version["provider_id"] != provider_id:
        raise invalid_field(path, "invalid_reference", "The version does not belong to this provider")
    return version


def check_same_provider(expected: str, record: Record | None, path: list[Any]) -> None:
    """A referenced object of another provider on create is a 400 naming the field (checkProviderMatch.ts)."""
    if record is not None and record.ref("provider_id") != expected:
        raise ApiError(
            400, choices.CREATE_MISMATCH_CODE, choices.CREATE_MISMATCH_MESSAGE, entity="body",
            errors=[field_problem(path, "provider_mismatch", "Belongs to a different provider")],
        )


def resolve_auth_method(em: EmulatorState, ref: str, provider_id: str | None) -> dict[str, Any]:
    """A method by id, or by key among the provider's (else all) current-version methods."""
    method = em.catalog.methods.get(ref)
    if method is not None:
        return method
    matches = em.catalog.methods_by_key(ref, provider_id)
    if not matches:
        raise not_found("provider.auth_method", ref)
    if len(matches) > 1:
        raise invalid_field(
            ["provider_auth_method_id"], "ambiguous",
            "Several providers have a method with this key; pass its id or a provider_deployment_id",
        )
    return matches[0]


def effective_version(em: EmulatorState, provider_id: str, deployment: Record | None) -> str:
    """The deployment's locked version, else the provider's current version."""
    if deployment is not None and deployment.doc.get("locked_version_id"):
        return str(deployment.doc["locked_version_id"])
    return em.catalog.current_version[provider_id]
