"""The kinds registry: everything that differs between resource types is a KindSpec entry here.

Adding a kind means one spec model in `specs.py` and one entry in `KINDS`. Translation between
the canonical spec (see `Resource.spec`) and the API's JSON lives beside each entry, so
client, live, plan and apply stay generic. Each kind names the API that serves it: Metorial,
or a key backend (Metlo, Metal) for `api_key`; live read and executor dispatch on that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from metorial_apply.core import specs
from metorial_apply.core.keys import KEY_ADDRESS_KIND, LiveKey, key_address, keys_in
from metorial_apply.core.model import Address, Resource, Stamp, parse_held

Spec = dict[str, Any]
METORIAL, KEY_BACKEND = "metorial", "key_backend"  # the APIs a kind can belong to


class Names(Protocol):
    """Turns ids in API objects back into the names a canonical spec uses."""

    def name_of(self, kind: str, id: str) -> str:
        """Name of our resource with that id, or the raw id when it is not ours."""

    def provider_slug(self, provider_id: str) -> str:
        """Slug of a catalog provider, or the raw id when unknown."""


class Ids(Protocol):
    """Turns names in a canonical spec into the ids the API wants (at apply time)."""

    def id_of(self, address: Address) -> str: ...

    def provider_id(self, provider: str) -> str: ...

    def method_id(self, provider: str, method: str) -> str: ...

    def version_id(self, provider: str, version: str) -> str: ...


@dataclass(frozen=True)
class ChildSpec:
    """Sub-resources kept as a set inside their parent's spec (session-template providers)."""

    field: str  # spec field holding the list
    key: str  # item field identifying an item within its parent
    path: str  # API path of the sub-resource
    parent_param: str  # body field naming the parent id on create
    patchable: frozenset[str]  # item fields the API can PATCH; others need delete + create
    to_api: Callable[[Spec, Ids], dict[str, Any]]  # item → create body (without parent_param)
    from_api: Callable[[dict[str, Any], Names], Spec]  # API sub-resource → canonical item


@dataclass(frozen=True)
class KindSpec:
    kind: str  # "deployment"
    section: str  # YAML top-level key, "deployments"
    path: str  # API collection path, "/provider-deployments"
    model: type[BaseModel]  # YAML spec model
    order: int  # kind order for sorting and creation ties
    refs: dict[str, str]  # top-level spec field → referenced kind
    create_only: frozenset[str]  # changing one of these means replace
    patchable: frozenset[str]  # fields an update may send
    secret_fields: tuple[str, ...]  # YAML fields whose values are write-only (moved to Resource.secret)
    secret_patchable: bool  # True when a new secret can be PATCHed instead of replacing
    to_api: Callable[[Spec, Ids], dict[str, Any]]  # canonical spec → API fields (no metadata/secret)
    from_api: Callable[[dict[str, Any], Names], Spec]  # API object → canonical spec (user metadata only)
    secret_to_api: Callable[[Any], dict[str, Any]] = lambda v: {"value": v}
    create_shape: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: body  # create body differs from PATCH
    children: ChildSpec | None = None
    # Which catalog JSON Schema the secret value must satisfy: "config" (the provider's config
    # schema) or "auth_method" (the input schema of the spec's `method`); None: not checked.
    value_schema: str | None = None
    # Text fields the API keeps when sent a blank (`text?.trim() || existing`): removing one from
    # the YAML cannot clear it, so the plan leaves it alone and says so in a note.
    kept_when_blank: frozenset[str] = frozenset()
    api: str = METORIAL  # the API that lists, creates and deletes objects of this kind
    # (kind, answer field) of objects the platform binds to this one outside our references and
    # that can never be moved to another (auth configs an OAuth setup bound to credentials): a
    # replace is refused while any is bound, since deleting the old object would strand them.
    bound_by: tuple[str, str] | None = None
    patch_always: frozenset[str] = frozenset()  # sent on every PATCH, changed or not (emulator/choices.py, PATCH)
    # False when a create's answer carried a one-time secret: what a lost create left behind
    # cannot be adopted (the secret is gone with the answer), so it is deleted and created again.
    adoptable: bool = True

    @property
    def label(self) -> str:
        """The kind in words with its article: "an auth config"."""
        words = self.kind.replace("_", " ")
        return ("an " if words[0] in "aeiou" else "a ") + words

    def references(self, spec: Spec) -> list[tuple[str, Address]]:
        """(spec path, address) of every ref in a canonical spec, children included."""
        out = [(f, Address(kind=k, name=spec[f])) for f, k in self.refs.items() if spec.get(f)]
        if self.children:
            for i, item in enumerate(spec.get(self.children.field) or []):
                out += [(f"{self.children.field}[{i}].{f}", Address(kind=k, name=item[f]))
                        for f, k in CHILD_REFS.items() if item.get(f)]
        return out


CHILD_REFS = {"deployment": "deployment", "config": "config", "auth_config": "auth_config"}


# -- shared translation pieces ------------------------------------------------------------


def common_to_api(spec: Spec) -> dict[str, Any]:
    # `None` becomes "" so that an update clears the field (empty string clears on PATCH);
    # create bodies drop empty strings, which the API treats as unset anyway.
    return {"name": spec["name"], "description": spec.get("description") or ""}


def common_from_api(obj: dict[str, Any]) -> Spec:
    user, _ = Stamp.split(obj.get("metadata"))
    return {
        "name": specs.trim(obj.get("name")),
        "description": specs.trim(obj.get("description")) or None,
        "metadata": user,
    }


def rules_from_api(tool_filter: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not tool_filter or tool_filter.get("type") != "filter":
        return []
    return specs.canonical_rules(dict(r) for r in tool_filter.get("filters") or [])


def ref_name(names: Names, kind: str, preview: dict[str, Any] | None) -> str | None:
    return names.name_of(kind, preview["id"]) if preview and preview.get("id") else None


def provider_of(obj: dict[str, Any], names: Names) -> str:
    return names.provider_slug(obj["provider_id"])


def ref_id(ids: Ids, kind: str, name: str | None) -> str | None:
    return ids.id_of(Address(kind=kind, name=name)) if name else None


# -- per-kind translation -----------------------------------------------------------------


def deployment_to_api(spec: Spec, ids: Ids) -> dict[str, Any]:
    version = spec.get("version")
    return common_to_api(spec) | {
        "provider_id": ids.provider_id(spec["provider"]),
        "tool_filters": spec["tool_filters"],
        "locked_provider_version_id": ids.version_id(spec["provider"], version) if version else None,
    }


def deployment_from_api(obj: dict[str, Any], names: Names) -> Spec:
    locked = obj.get("locked_version")
    return common_from_api(obj) | {
        "provider": provider_of(obj, names),
        "tool_filters": rules_from_api(obj.get("tool_filter")),
        "version": locked["version"] if locked else None,
    }


def config_to_api(spec: Spec, ids: Ids) -> dict[str, Any]:
    return common_to_api(spec) | {
        "provider_id": ids.provider_id(spec["provider"]),
        "provider_deployment_id": ref_id(ids, "deployment", spec.get("deployment")),
        "provider_config_vault_id": ref_id(ids, "config_vault", spec.get("vault")),
        "tool_filters": spec["tool_filters"],
    }


def scoped_from_api(obj: dict[str, Any], names: Names) -> Spec:
    """The fields of a kind that belongs to a deployment (specs.DeploymentScoped): config
    vaults as they are, configs and auth configs with their own fields added."""
    return common_from_api(obj) | {
        "deployment": ref_name(names, "deployment", obj.get("deployment")),
        "provider": provider_of(obj, names),
    }


def config_from_api(obj: dict[str, Any], names: Names) -> Spec:
    return scoped_from_api(obj, names) | {
        "vault": ref_name(names, "config_vault", obj.get("from_vault")),
        "tool_filters": rules_from_api(obj.get("tool_filter")),
    }


def vault_to_api(spec: Spec, ids: Ids) -> dict[str, Any]:
    return common_to_api(spec) | {
        "provider_id": ids.provider_id(spec["provider"]),
        "provider_deployment_id": ref_id(ids, "deployment", spec.get("deployment")),
    }


def auth_config_to_api(spec: Spec, ids: Ids) -> dict[str, Any]:
    return common_to_api(spec) | {
        "provider_auth_method_id": ids.method_id(spec["provider"], spec["method"]),
        "provider_deployment_id": ref_id(ids, "deployment", spec.get("deployment")),
        "tool_filters": spec["tool_filters"],
    }


def auth_config_from_api(obj: dict[str, Any], names: Names) -> Spec:
    return scoped_from_api(obj, names) | {
        "method": (obj.get("auth_method") or {}).get("key"),
        "tool_filters": rules_from_api(obj.get("tool_filter")),
    }


def credentials_to_api(spec: Spec, ids: Ids) -> dict[str, Any]:
    return common_to_api(spec) | {"provider_id": ids.provider_id(spec["provider"]), "scopes": spec["scopes"]}


def credentials_from_api(obj: dict[str, Any], names: Names) -> Spec:
    scopes = [s if isinstance(s, str) else s.get("scope") for s in obj.get("scopes") or []]
    return common_from_api(obj) | {"provider": provider_of(obj, names), "scopes": sorted(set(scopes))}


def credentials_create_shape(body: dict[str, Any]) -> dict[str, Any]:
    """Create nests the OAuth client under `config`; PATCH takes the same fields at the top level."""
    nested = {k: body.pop(k) for k in ("client_id", "client_secret", "scopes") if k in body}
    return body | {"config": {"type": "oauth"} | nested}


def template_provider_to_api(item: Spec, ids: Ids) -> dict[str, Any]:
    body = {
        "provider_deployment_id": ref_id(ids, "deployment", item["deployment"]),
        "provider_config_id": ref_id(ids, "config", item.get("config")),
        "provider_auth_config_id": ref_id(ids, "auth_config", item.get("auth_config")),
        "tool_filters": item["tool_filters"],
    }
    return {k: v for k, v in body.items() if v is not None}


def template_to_api(spec: Spec, ids: Ids) -> dict[str, Any]:
    return common_to_api(spec) | {"providers": [template_provider_to_api(p, ids) for p in spec["providers"]]}


def template_provider_from_api(item: dict[str, Any], names: Names) -> Spec:
    return {
        "deployment": ref_name(names, "deployment", item.get("deployment")),
        # The server fills a missing config with the deployment's default (possibly one it just
        # created, "Default Config for …"): nobody's resource, so it reads as "no config".
        "config": None if (item.get("config") or {}).get("is_default")
        else ref_name(names, "config", item.get("config")),
        "auth_config": ref_name(names, "auth_config", item.get("auth_config")),
        "tool_filters": rules_from_api(item.get("tool_filter")),
    }


def template_from_api(obj: dict[str, Any], names: Names) -> Spec:
    items = [p for p in obj.get("providers") or [] if p.get("status", "active") == "active"]
    providers = sorted((template_provider_from_api(p, names) for p in items), key=lambda p: p["deployment"] or "")
    return common_from_api(obj) | {"providers": providers}


def key_to_api(spec: Spec, ids: Ids) -> dict[str, Any]:
    return {"name": spec["name"], "key_for": spec.get("key_for")}


def key_from_api(obj: dict[str, Any], names: Names | None = None) -> Spec:
    """A listed key (core/keys.py LiveKey fields) → its public spec: never a secret."""
    return {k: obj.get(k) for k in ("backend", "name", "identity", "key_for")}


def key_resource(key: LiveKey, address: Address) -> Resource:
    """A listed key as a live Resource of the api_key kind (its id is what its delete takes)."""
    return Resource(address=address, spec=key_from_api(key.model_dump()), id=key.id)


def live_key(resource: Resource) -> LiveKey:
    """`key_resource` read back: what a key backend's delete takes."""
    spec = resource.spec
    return LiveKey(backend=spec["backend"], name=spec["name"], identity=spec.get("identity") or "",
                   id=resource.id or spec["name"], key_for=spec.get("key_for"))


# Fields that travel inside `metadata` (which every update sends whole): `protect` lives in
# our stamp, so changing it is an update that rewrites metadata only.
METADATA_FIELDS = frozenset({"metadata", "protect"})
COMMON_PATCHABLE = frozenset({"name", "description"}) | METADATA_FIELDS

KINDS: dict[str, KindSpec] = {k.kind: k for k in [
    KindSpec(
        kind="deployment", section="deployments", path="/provider-deployments", model=specs.DeploymentSpec, order=0,
        refs={}, create_only=frozenset({"provider"}), patchable=COMMON_PATCHABLE | {"tool_filters", "version"},
        secret_fields=(), secret_patchable=False, to_api=deployment_to_api, from_api=deployment_from_api,
        patch_always=frozenset({"tool_filters"}),  # the March engine resets filters a PATCH leaves out
    ),
    KindSpec(
        kind="config_vault", section="config_vaults", path="/provider-config-vaults", model=specs.ConfigVaultSpec,
        order=1, refs={"deployment": "deployment"}, create_only=frozenset({"provider", "deployment"}),
        patchable=COMMON_PATCHABLE, secret_fields=("value",), secret_patchable=False,
        to_api=vault_to_api, from_api=scoped_from_api, value_schema="config",
    ),
    KindSpec(
        kind="config", section="configs", path="/provider-configs", model=specs.ConfigSpec, order=2,
        refs={"deployment": "deployment", "vault": "config_vault"},
        create_only=frozenset({"provider", "deployment", "vault"}), patchable=COMMON_PATCHABLE | {"tool_filters"},
        secret_fields=("value",), secret_patchable=False, to_api=config_to_api, from_api=config_from_api,
        value_schema="config",
    ),
    # The engine keeps a credential's OAuth client on update: it takes name, description and
    # metadata only and answers 200 (subspace modules/auth/src/services/providerAuthCredentials.ts
    # updateProviderAuthCredentials), so the client and its scopes are create-only: a change replaces.
    KindSpec(
        kind="auth_credentials", section="auth_credentials", path="/provider-auth-credentials",
        model=specs.AuthCredentialsSpec, order=3, refs={}, create_only=frozenset({"provider", "scopes"}),
        patchable=COMMON_PATCHABLE, secret_fields=("client_id", "client_secret"), secret_patchable=False,
        to_api=credentials_to_api, from_api=credentials_from_api, secret_to_api=lambda v: dict(v),
        # subspace providerOAuthSetupInternal.ts handleOAuthSetupResponse sets an auth config's
        # credentials; providerAuthConfig.ts takes no credentials id on create or update.
        bound_by=("auth_config", "credentials"),
        create_shape=credentials_create_shape,
    ),
    KindSpec(
        kind="auth_config", section="auth_configs", path="/provider-auth-configs", model=specs.AuthConfigSpec,
        order=4, refs={"deployment": "deployment"}, create_only=frozenset({"provider", "deployment", "method"}),
        patchable=COMMON_PATCHABLE | {"tool_filters"}, secret_fields=("value",), secret_patchable=False,
        to_api=auth_config_to_api, from_api=auth_config_from_api, value_schema="auth_method",
        kept_when_blank=frozenset({"description"}),  # subspace modules/auth/src/services/providerAuthConfig.ts
    ),
    KindSpec(
        kind="session_template", section="session_templates", path="/session-templates",
        model=specs.SessionTemplateSpec, order=5, refs={}, create_only=frozenset(), patchable=COMMON_PATCHABLE,
        secret_fields=(), secret_patchable=False, to_api=template_to_api, from_api=template_from_api,
        children=ChildSpec(
            field="providers", key="deployment", path="/session-template-providers",
            parent_param="session_template_id", patchable=frozenset({"tool_filters"}),
            to_api=template_provider_to_api, from_api=template_provider_from_api,
        ),
    ),
    # A key lives on a key backend, not on Metorial; it is ours by its name, `<stack>~<name>~<generation>`
    # (core/keys.py), and its consumers' stamps record which generation they hold. A key cannot be
    # updated: a changed backend or key_for replaces it, and a rotation is a replace whose new
    # object is the next generation. First in kind order: consumers need its secret.
    KindSpec(
        kind=KEY_ADDRESS_KIND, section="api_keys", path="", api=KEY_BACKEND, model=specs.ApiKeySpec, order=-1,
        refs={}, create_only=frozenset({"backend", "key_for"}), patchable=frozenset(), secret_fields=(),
        secret_patchable=False, to_api=key_to_api, from_api=key_from_api, adoptable=False,
    ),
]}

# The kinds Metorial serves: what the live read lists there and the YAML sections that hold them
# (`api_keys:` has rules of its own, config/keys.py).
METORIAL_KINDS: dict[str, KindSpec] = {k.kind: k for k in KINDS.values() if k.api == METORIAL}
SECTIONS: dict[str, KindSpec] = {k.section: k for k in METORIAL_KINDS.values()}


def kind_order(kind: str) -> int:
    return KINDS[kind].order if kind in KINDS else len(KINDS)


def refs_of(resource: Resource) -> frozenset[Address]:
    """Every address a resource references: its spec's refs, and the api keys its value holds
    (desired: its `${key.…}` slots; live: the generations its stamp records)."""
    held = parse_held(resource.stamp.keys) if resource.stamp is not None else None
    keys = {key_address(name) for name in keys_in(resource.secret) | frozenset(held or ())}
    return frozenset(a for _, a in KINDS[resource.address.kind].references(resource.spec)) | keys


def sort_key(address: Address) -> tuple[int, str]:
    """Deterministic order everywhere: kind order, then name."""
    return (kind_order(address.kind), address.name)


def create_body(kind: KindSpec, spec: Spec, secret: Any, metadata: dict[str, Any], ids: Ids) -> dict[str, Any]:
    """Full create body: every field, the secret, and metadata (user + stamp) in one call."""
    body = {k: v for k, v in kind.to_api(spec, ids).items() if v not in (None, "")}
    if secret is not None:
        body |= kind.secret_to_api(secret)
    return kind.create_shape(body) | {"metadata": metadata}


# The API keys each patchable canonical field is sent as (metadata is always sent whole).
PATCH_KEYS = {
    "name": ("name",), "description": ("description",), "tool_filters": ("tool_filters",),
    "version": ("locked_provider_version_id",), "scopes": ("scopes",),
}


def patch_body(kind: KindSpec, spec: Spec, fields: frozenset[str], secret: Any,
               metadata: dict[str, Any], ids: Ids) -> dict[str, Any]:
    """Update body: the changed patchable fields and the kind's `patch_always` ones, plus metadata
    sent whole (PATCH replaces it). A `None` is meaningful (e.g. unlock the version), so it is kept."""
    full = kind.to_api(spec, ids)
    keys = [key for f in sorted((fields | kind.patch_always) & kind.patchable) for key in PATCH_KEYS.get(f, ())]
    body = {key: full[key] for key in keys}
    if secret is not None and kind.secret_patchable:
        body |= kind.secret_to_api(secret)
    return body | {"metadata": metadata}
