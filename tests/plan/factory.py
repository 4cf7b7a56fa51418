"""Builders for desired and live resources, so planner tests read like YAML."""

from __future__ import annotations

from typing import Any

from metorial_apply.core.fingerprint import stamp_for
from metorial_apply.core.kinds import KINDS
from metorial_apply.core.model import Address, Resource, SecretValue
from metorial_apply.core.state import State

STACK = "prod"
SALT = "00112233445566778899aabbccddeeff"
CANARY = "canary-s3cr3t-7f3a9c"


def desired(kind: str, name: str, data: dict[str, Any], *, sensitive: frozenset[str] = frozenset(),
            protect: bool = False) -> Resource:
    """A desired resource from YAML-shaped data (provider filled in as load_config does)."""
    spec, secret = KINDS[kind].model.model_validate(data).canonical(name)
    if "provider" in spec and spec["provider"] is None:
        spec["provider"] = "github"
    return Resource(address=Address(kind=kind, name=name), spec=spec, protect=protect, sensitive=sensitive,
                    secret=SecretValue(secret) if secret is not None else None, source=f"stack.yaml:{len(name)}")


def live(resource: Resource, *, id: str | None = None, salt: str = SALT, stack: str = STACK,
         spec: dict[str, Any] | None = None, address: Address | None = None) -> Resource:
    """The live twin of a desired resource as applied by us (stamped), optionally edited since."""
    stamp = stamp_for(resource, stack, salt if resource.secret is not None else None)
    children = {}
    child = KINDS[resource.address.kind].children
    if child:
        children = {
            item[child.key]: f"stp_{resource.address.name}_{item[child.key]}" for item in resource.spec[child.field]
        }
    return Resource(address=address or resource.address, spec=spec if spec is not None else resource.spec,
                    id=id or f"id_{resource.address}", stamp=stamp, children=children,
                    fingerprint=f"fp-{resource.address}-{hash(repr(spec))}", protect=stamp.protect)


def state(*resources: Resource, stack: str = STACK) -> State:
    return State.of(stack, list(resources))


def basic() -> list[Resource]:
    """deployment.github ← config.github-prod, auth_config.github-oauth ← session_template.support."""
    return [
        desired(
            "deployment", "github", {"provider": "github", "description": "GitHub tools", "tools": ["create_issue"]}
        ),
        desired("config", "github-prod", {"deployment": "github", "value": {"token": CANARY}}),
        desired(
            "auth_config",
            "github-oauth",
            {"deployment": "github", "method": "oauth", "value": {"client_id": "cid", "client_secret": CANARY + "-2"}},
        ),
        desired(
            "session_template",
            "support",
            {
                "description": "Support",
                "providers": [{"deployment": "github", "config": "github-prod", "auth_config": "github-oauth"}],
            },
        ),
    ]
