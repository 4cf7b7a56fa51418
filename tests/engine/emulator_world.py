"""The scenarios' `World` (scenarios/fidelity.py) on the emulator, over its public REST API.

"main" is the emulator's Slack (a manual `bot_token` method and a config schema that requires
`workspace`), standing where the engine's fixture GitHub stands; "other" is Linear, standing
where the engine's Calculator does (and "schemaless" is the emulator's Calculator, whose config
schema is `{type: object, properties: {}}` as the engine's is). What a scenario compares is the platform's rule, not the
catalog: ids and tool keys never appear in an outcome.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.engine.scenarios.fidelity import Obj, Pieces, Refused, Result, common_form

PROVIDERS = {"main": "slack", "other": "linear", "schemaless": "calculator"}
CONFIG_VALUES = {"main": {"workspace": "acme"}, "other": {}, "schemaless": {}}
PIECE_KEYS = {"deployment": "provider_deployment_id", "config": "provider_config_id",
              "auth_config": "provider_auth_config_id"}


def common(made: dict[str, Any]) -> Obj:
    """The API's object; its filter is {type: allow_all} or {type: filter, filters}."""
    return common_form(made, "tool_filter", "allow_all", "default_config")


def given(**fields: Any) -> dict[str, Any]:
    """The fields a step sets; the others are left out of the body, as the scenario left them out."""
    return {k: v for k, v in fields.items() if v is not None}


class EmulatorWorld:
    """Every step one REST call on `api` (a client with the secret key); refusals become `Refused`."""

    def __init__(self, api: httpx.Client) -> None:
        self.api = api

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.api.request(method, path, json=body, params=params)
        if response.status_code != 200:
            error = response.json()
            raise Refused(response.status_code, error.get("code"), error.get("message"))
        return dict(response.json())

    def deployment(self, provider: str = "main", *, rules: list[Result] | None = None, name: str | None = None,
                   description: str | None = None, locked_version: str | None = None) -> Obj:
        body = given(provider_id=PROVIDERS[provider], tool_filters=rules, name=name, description=description,
                     locked_provider_version_id=locked_version)
        return common(self.call("POST", "/provider-deployments", body))

    def update_deployment(self, ident: str, *, name: str | None = None, description: str | None = None,
                          rules: list[Result] | None = None) -> Obj:
        body = given(name=name, description=description, tool_filters=rules)
        return common(self.call("PATCH", f"/provider-deployments/{ident}", body))

    def get_deployment(self, ident: str) -> Obj:
        return common(self.call("GET", f"/provider-deployments/{ident}"))

    def auth_config(self, deployment: str | None = None) -> Obj:
        body = given(provider_auth_method_id=self._method(), value={"bot_token": "t"},
                     provider_deployment_id=deployment)
        return common(self.call("POST", "/provider-auth-configs", body))

    def _method(self) -> str:
        methods = self.call("GET", "/provider-auth-methods", params={"provider_id": PROVIDERS["main"],
                                                                     "provider_version_id": self.main_version()})
        return str(next(m["id"] for m in methods["items"] if m["key"] == "bot_token"))

    def update_auth_config(self, ident: str, *, name: str, description: str) -> Obj:
        return common(self.call("PATCH", f"/provider-auth-configs/{ident}", {"name": name, "description": description}))

    def config(self, deployment: str | None = None) -> Obj:
        body = given(provider_id=PROVIDERS["main"], value=CONFIG_VALUES["main"], provider_deployment_id=deployment)
        return common(self.call("POST", "/provider-configs", body))

    def vault(self, provider: str = "main", *, deployment: str | None = None) -> Obj:
        body = given(provider_id=PROVIDERS[provider], name="v", value=CONFIG_VALUES[provider],
                     provider_deployment_id=deployment)
        return common(self.call("POST", "/provider-config-vaults", body))

    def config_from_vault(self, vault: str, *, deployment: str | None = None) -> Obj:
        body = given(provider_id=PROVIDERS["main"], provider_config_vault_id=vault, provider_deployment_id=deployment)
        return common(self.call("POST", "/provider-configs", body))

    def template(self, name: str, providers: list[Pieces]) -> Obj:
        entries = [{PIECE_KEYS[role]: ident for role, ident in pieces.items()} for pieces in providers]
        return common(self.call("POST", "/session-templates", {"name": name, "providers": entries}))

    def main_version(self) -> str:
        versions = self.call("GET", "/provider-versions", params={"provider_id": PROVIDERS["main"]})["items"]
        return str(next(v["id"] for v in versions if v.get("is_current")))

    def deployments_by_version(self, version: str) -> list[str]:
        listed = self.call("GET", "/provider-deployments", params={"provider_version_id": version, "limit": 100})
        return [d["id"] for d in listed["items"]]

    def templates_by_deployment(self, deployment: str) -> list[str]:
        listed = self.call("GET", "/session-templates", params={"provider_deployment_id": deployment, "limit": 100})
        return [t["id"] for t in listed["items"]]
