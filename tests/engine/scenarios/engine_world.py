"""The scenarios' `World` (fidelity.py) on the platform's engine: subspace's RPC, camelCase, one
fresh tenant per connection. "main" is the harness's fixture GitHub provider (token and OAuth
methods, a config schema with required properties), "other" and "schemaless" the built-in
Calculator (no auth methods, config schema `{type: object, properties: {}}`).

Stdlib + the harness client (credentials.py finds it through SUBSPACE_HARNESS). Run as a script it
records every scenario: from the repository's root,
SUBSPACE_URL=http://127.0.0.1:<port>/subspace-controller python3 -m tests.engine.scenarios.engine_world
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from .credentials import ENGINE_COMMIT, Subspace, SubspaceRpcError, connect, oauth_provider
from .fidelity import SCENARIOS, Obj, Pieces, Refused, Result, common_form, run_one

__all__ = ["ENGINE_COMMIT", "EngineWorld", "record"]
PIECE_KEYS = {"deployment": "providerDeploymentId", "config": "providerConfigId", "auth_config": "providerAuthConfigId"}


def common(made: dict[str, Any]) -> Obj:
    """The engine's camelCase object; its filter is {type: v1.allow_all} or {type: v1.filter, filters}."""
    return common_form(made, "toolFilter", "v1.allow_all", "defaultConfig")


def where(deployment: str | None) -> dict[str, Any]:
    return {"providerDeployment": {"type": "reference", "providerDeploymentId": deployment}} if deployment else {}


class EngineWorld:
    """Every step one RPC call; a refusal becomes `Refused` with the engine's status and code."""

    def __init__(self, s: Subspace, base: dict[str, str]) -> None:
        self.s, self.base = s, base
        self.main, methods = oauth_provider(s, base)
        self.token = next(m for m in methods if m.get("type") == "token")
        providers = s.call("provider:list", limit=50, **base)["items"]
        calculator = next(p for p in providers if not p["name"].startswith("Git Hub"))
        self.providers = {"main": self.main, "other": calculator, "schemaless": calculator}

    @classmethod
    def connect(cls, url: str) -> EngineWorld:
        return cls(*connect(url))

    def call(self, method: str, **payload: Any) -> dict[str, Any]:
        try:
            return dict(self.s.call(method, **self.base, **payload))
        except SubspaceRpcError as e:
            body = e.body if isinstance(e.body, dict) else {}
            raise Refused(e.status, body.get("code"), body.get("message")) from None

    def deployment(self, provider: str = "main", *, rules: list[Result] | None = None, name: str | None = None,
                   description: str | None = None, locked_version: str | None = None) -> Obj:
        given = {"toolFilters": rules[0] if rules and len(rules) == 1 else rules, "name": name,
                 "description": description, "lockedProviderVersionId": locked_version}
        made = self.call("providerDeployment:create", providerId=self.providers[provider]["id"],
                         **{k: v for k, v in given.items() if v is not None})
        return common(made)

    def update_deployment(self, ident: str, *, name: str | None = None, description: str | None = None,
                          rules: list[Result] | None = None) -> Obj:
        given = {"name": name, "description": description, "toolFilters": rules}
        return common(self.call("providerDeployment:update", providerDeploymentId=ident,
                                **{k: v for k, v in given.items() if v is not None}))

    def get_deployment(self, ident: str) -> Obj:
        return common(self.call("providerDeployment:get", providerDeploymentId=ident))

    def auth_config(self, deployment: str | None = None) -> Obj:
        return common(self.call("providerAuthConfig:create", providerId=self.main["id"],
                                providerAuthMethodId=self.token["id"], ip="127.0.0.1", ua="scenario",
                                config={"token": "t"}, **where(deployment)))

    def update_auth_config(self, ident: str, *, name: str, description: str) -> Obj:
        return common(self.call("providerAuthConfig:update", providerAuthConfigId=ident, ip="127.0.0.1",
                                ua="scenario", name=name, description=description))

    def config(self, deployment: str | None = None) -> Obj:
        return common(self.call("providerConfig:create", providerId=self.main["id"],
                                config={"type": "inline", "data": {"org": "acme"}}, **where(deployment)))

    def vault(self, provider: str = "main", *, deployment: str | None = None) -> Obj:
        data = {"org": "a"} if provider == "main" else {}
        bound = {"providerDeploymentId": deployment} if deployment else {}
        return common(self.call("providerConfigVault:create", providerId=self.providers[provider]["id"], name="v",
                                config={"type": "inline", "data": data}, **bound))

    def config_from_vault(self, vault: str, *, deployment: str | None = None) -> Obj:
        return common(self.call("providerConfig:create", providerId=self.main["id"], **where(deployment),
                                config={"type": "vault", "providerConfigVaultId": vault}))

    def template(self, name: str, providers: list[Pieces]) -> Obj:
        entries = [{PIECE_KEYS[role]: ident for role, ident in pieces.items()} for pieces in providers]
        return common(self.call("sessionTemplate:create", name=name, providers=entries))

    def main_version(self) -> str:
        return str(self.call("providerVersion:list", providerIds=[self.main["id"]], limit=5)["items"][0]["id"])

    def deployments_by_version(self, version: str) -> list[str]:
        return [d["id"] for d in self.call("providerDeployment:list", providerVersionIds=[version], limit=100)["items"]]

    def templates_by_deployment(self, deployment: str) -> list[str]:
        listed = self.call("sessionTemplate:list", providerDeploymentIds=[deployment], limit=100)["items"]
        return [t["id"] for t in listed]


def record(url: str) -> Result:
    """Every scenario's outcome on the engine at `url`, as tests/engine/recorded/fidelity.json holds them."""
    world = EngineWorld.connect(url)
    return {"engine": {"subspace": ENGINE_COMMIT}, "scenarios": {name: run_one(world, name) for name in SCENARIOS}}


if __name__ == "__main__":
    target = os.environ.get("SUBSPACE_URL") or (sys.argv[1] if len(sys.argv) > 1 else "")
    if not target:
        sys.exit("SUBSPACE_URL (or argv[1]) must name the controller's /subspace-controller URL")
    print(json.dumps(record(target), indent=2, sort_keys=True))
