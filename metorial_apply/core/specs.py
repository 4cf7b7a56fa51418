"""Per-kind YAML spec models (what users write) and their canonical form (what plans compare).

Each model is frozen with `extra="forbid"`, so unknown fields are errors. `canonical()` turns a
validated model into the JSON-only dict kept in `Resource.spec` plus the write-only secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from metorial_apply.core.keys import KEY_TYPES
from metorial_apply.core.model import Frozen

JSON = Any
YAML_TO_SPEC = {"tools": "tool_filters"}  # YAML field → canonical spec field, where they differ

RULE_TYPES = ("tool_keys", "tool_regex", "resource_uris", "resource_regex", "prompt_keys", "prompt_regex")
RULE_FIELDS = {  # rule type → the API field holding its argument
    "tool_keys": "keys", "tool_regex": "pattern", "resource_uris": "uris",
    "resource_regex": "pattern", "prompt_keys": "keys", "prompt_regex": "pattern",
}


class ToolRule(Frozen):
    """One tool filter rule; exactly one field is set, e.g. `{tool_regex: "^list_"}`."""

    tool_keys: list[str] | None = None
    tool_regex: str | None = None
    resource_uris: list[str] | None = None
    resource_regex: str | None = None
    prompt_keys: list[str] | None = None
    prompt_regex: str | None = None

    @field_validator("tool_regex", "resource_regex", "prompt_regex")
    @classmethod
    def _pattern_not_empty(cls, value: str | None) -> str | None:
        # The API rejects an empty pattern: refuse it before anything is sent.
        if value is not None and not value:
            raise ValueError("a regex pattern cannot be empty (the API rejects it)")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ToolRule:
        set_fields = [t for t in RULE_TYPES if getattr(self, t) is not None]
        if len(set_fields) != 1:
            raise ValueError(f"a tool rule needs exactly one of: {', '.join(RULE_TYPES)}")
        return self

    def api_rule(self) -> dict[str, Any]:
        kind = next(t for t in RULE_TYPES if getattr(self, t) is not None)
        return {"type": kind, RULE_FIELDS[kind]: getattr(self, kind)}


Tools = list[str | ToolRule] | None


def canonical_rules(rules: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool rules as the set they mean: a rule matches when any of its keys or uris does, and a
    filter when any of its rules does, so order and repeats carry no meaning. Sorting and
    de-duplicating both lists lets `[b, a, a]` in the YAML equal `[a, b]` stored by the API.
    Rules are never merged: how the API combines two rules of one type is not documented."""
    out: list[dict[str, Any]] = []
    for rule in rules:
        rule = {k: sorted(set(v)) if isinstance(v, list) and all(isinstance(x, str) for x in v) else v
                for k, v in rule.items()}
        if rule not in out:
            out.append(rule)
    return sorted(out, key=_rule_order)


def _rule_order(rule: dict[str, Any]) -> tuple[int, str]:
    kind = rule.get("type")
    rank = RULE_TYPES.index(kind) if kind in RULE_TYPES else len(RULE_TYPES)
    return rank, json.dumps(rule, sort_keys=True, ensure_ascii=False)


def tool_filters(tools: Tools) -> list[dict[str, Any]]:
    """YAML `tools:` → canonical API rules. Bare strings merge into one tool_keys rule;
    absent or empty means allow all (`[]`)."""
    if not tools:
        return []
    keys = [t for t in tools if isinstance(t, str)]
    rules = [t.api_rule() for t in tools if isinstance(t, ToolRule)]
    return canonical_rules(([{"type": "tool_keys", "keys": keys}] if keys else []) + rules)


# What any server might trim: Python's white space plus JavaScript's (String.prototype.trim also
# drops U+FEFF). Trimming the union here makes a name the server trims its own way arrive
# already trimmed, so desired and live agree whichever definition the API uses.
TRIMMED = "".join(c for c in map(chr, range(0x3001)) if c.isspace()) + "\ufeff"


def trim(text: str | None) -> str:
    return (text or "").strip(TRIMMED)


class Common(Frozen):
    """Fields every managed kind shares."""

    name: str | None = Field(None, description="Name shown in Metorial; defaults to the YAML key.")
    description: str | None = None
    metadata: dict[str, JSON] = Field(
        default_factory=dict, description="User metadata; keys under metorial-apply/ are reserved."
    )
    protect: bool = Field(False, description="Refuse to delete or replace this resource.")
    ignore: list[str] = Field(
        default_factory=list,
        description="Fields left to the dashboard: never compared, never sent on update (sent on create when set).",
    )

    @model_validator(mode="after")
    def _no_reserved_metadata(self) -> Common:
        bad = sorted(k for k in self.metadata if k.startswith("metorial-apply/"))
        if bad:
            raise ValueError(f"metadata keys under metorial-apply/ are reserved: {', '.join(bad)}")
        return self

    def common(self, key: str) -> dict[str, Any]:
        return {
            "name": trim(self.name) or key,
            "description": trim(self.description) or None,
            "metadata": dict(self.metadata),
        }


class DeploymentSpec(Common):
    provider: str = Field(description="Provider slug (e.g. github) or id.")
    tools: Tools = Field(None, description="Tool keys, or rules; absent means all tools.")
    version: str | None = Field(
        None, description="Lock to this provider version (version string or id); absent follows the latest."
    )

    def canonical(self, key: str) -> tuple[dict[str, Any], JSON]:
        spec = self.common(key) | {
            "provider": self.provider,
            "tool_filters": tool_filters(self.tools),
            "version": self.version,
        }
        return spec, None


class ConfigSpec(Common):
    deployment: str | None = Field(None, description="Name of the deployment this config belongs to.")
    provider: str | None = Field(None, description="Provider slug or id; defaults to the deployment's provider.")
    value: dict[str, JSON] | None = Field(
        None, description="Config value (secret, write-only). Exactly one of value or vault."
    )
    vault: str | None = Field(None, description="Name of a config vault to take the value from.")
    tools: Tools = None

    @model_validator(mode="after")
    def _one_source(self) -> ConfigSpec:
        if (self.value is None) == (self.vault is None):
            raise ValueError("a config needs exactly one of value or vault")
        if self.deployment is None and self.provider is None and self.vault is None:
            raise ValueError("a config needs a deployment, a provider or a vault")
        return self

    def canonical(self, key: str) -> tuple[dict[str, Any], JSON]:
        spec = self.common(key) | {
            "deployment": self.deployment, "provider": self.provider, "vault": self.vault,
            "tool_filters": tool_filters(self.tools),
        }
        return spec, self.value


class DeploymentScoped(Common):
    """A kind that belongs to a deployment or, without one, names its provider directly."""

    label: ClassVar[str]
    deployment: str | None = None
    provider: str | None = Field(None, description="Provider slug or id; defaults to the deployment's provider.")

    @model_validator(mode="after")
    def _provider_known(self) -> DeploymentScoped:
        if self.deployment is None and self.provider is None:
            raise ValueError(f"{self.label} needs a deployment or a provider")
        return self


class ConfigVaultSpec(DeploymentScoped):
    label = "a config vault"
    value: dict[str, JSON] = Field(description="Config value stored in the vault (secret, write-only).")

    def canonical(self, key: str) -> tuple[dict[str, Any], JSON]:
        return self.common(key) | {"deployment": self.deployment, "provider": self.provider}, self.value


class AuthConfigSpec(DeploymentScoped):
    label = "an auth config"
    method: str = Field(description="Auth method key (e.g. oauth) or id.")
    value: dict[str, JSON] = Field(
        description="Auth input (secret, write-only), checked against the method's input schema."
    )
    tools: Tools = None

    def canonical(self, key: str) -> tuple[dict[str, Any], JSON]:
        spec = self.common(key) | {
            "deployment": self.deployment, "provider": self.provider, "method": self.method,
            "tool_filters": tool_filters(self.tools),
        }
        return spec, self.value


class AuthCredentialsSpec(Common):
    provider: str
    # The API rejects empty ones, so they are refused here rather than at apply time.
    client_id: str = Field(min_length=1, description="OAuth client id (write-only).")
    client_secret: str = Field(min_length=1, description="OAuth client secret (secret, write-only).")
    scopes: list[str] = Field(default_factory=list)

    def canonical(self, key: str) -> tuple[dict[str, Any], JSON]:
        spec = self.common(key) | {"provider": self.provider, "scopes": sorted(set(self.scopes))}
        return spec, {"client_id": self.client_id, "client_secret": self.client_secret}


class TemplateProviderSpec(Frozen):
    """One provider of a session template, identified by its deployment."""

    deployment: str
    config: str | None = Field(None, description="Config name; absent uses the deployment's default.")
    auth_config: str | None = Field(None, description="Auth config name; absent uses the deployment's default.")
    tools: Tools = None

    def canonical(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment, "config": self.config, "auth_config": self.auth_config,
            "tool_filters": tool_filters(self.tools),
        }


class SessionTemplateSpec(Common):
    providers: list[TemplateProviderSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_deployments(self) -> SessionTemplateSpec:
        seen = [p.deployment for p in self.providers]
        dupes = sorted({d for d in seen if seen.count(d) > 1})
        if dupes:
            raise ValueError(f"a deployment may appear once per template: {', '.join(dupes)}")
        if len(self.providers) > 100:
            raise ValueError("a session template has at most 100 providers")
        return self

    def canonical(self, key: str) -> tuple[dict[str, Any], JSON]:
        providers = sorted((p.canonical() for p in self.providers), key=lambda p: p["deployment"])
        return self.common(key) | {"providers": providers}, None


class ApiKeySpec(BaseModel):
    """An API key created on a key backend; `${key.NAME.secret}` delivers its one-time secret."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built when first used (start-up)
    backend: str
    key_for: Literal[KEY_TYPES] | None = Field(None, description="Metlo's key type (default GENERIC)")  # type: ignore[valid-type]
    rotate_after: str | None = Field(None, pattern=r"^[1-9][0-9]{0,5}[dhm]$", description="e.g. 90d")
