"""Issue 22's rules asked of the platform's engine itself (subspace over its RPC, see
/work/shared/real-engine/README.md): one outcome per scenario, printed as JSON, so the result can
be recorded under tests/engine/recorded/ and compared with the emulator's.

Usage: SUBSPACE_URL=http://127.0.0.1:<port>/subspace-controller python3 tests/engine/scenarios/fidelity.py
Standalone (stdlib + the harness client), like credentials.py beside it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))
from credentials import ENGINE_COMMIT, Subspace, attempt, connect, oauth_provider

Result = dict[str, Any]
Base = dict[str, str]


def outcome(made: Result) -> Result:
    """Accepted, or refused with status and code (messages kept: they are part of the contract)."""
    if made["ok"]:
        return {"accepted": True}
    return {"accepted": False, "status": made["status"], "code": made["code"], "message": made["message"]}


class World:
    """The objects the scenarios share: the fixture GitHub provider and the built-in Calculator."""

    def __init__(self, s: Subspace, base: Base) -> None:
        self.s, self.base = s, base
        self.github, methods = oauth_provider(s, base)
        self.token = next(m for m in methods if m.get("type") == "token")
        providers = s.call("provider:list", limit=50, **base)["items"]
        self.calculator = next(p for p in providers if not p["name"].startswith("Git Hub"))

    def call(self, method: str, **payload: Any) -> Result:
        return attempt(self.s, self.base, method, **payload)

    def make(self, method: str, **payload: Any) -> dict[str, Any]:
        made = self.call(method, **payload)
        assert made["ok"], made
        return made["result"]

    def deployment(self, **extra: Any) -> dict[str, Any]:
        return self.make("providerDeployment:create", providerId=self.github["id"], **extra)

    def auth_config(self, deployment: str | None = None, **extra: Any) -> dict[str, Any]:
        where = {"providerDeployment": {"type": "reference", "providerDeploymentId": deployment}} if deployment else {}
        return self.make("providerAuthConfig:create", providerId=self.github["id"],
                         providerAuthMethodId=self.token["id"], ip="127.0.0.1", ua="scenario",
                         config={"token": "t"}, **where, **extra)

    def config(self, deployment: str | None = None) -> dict[str, Any]:
        where = {"providerDeployment": {"type": "reference", "providerDeploymentId": deployment}} if deployment else {}
        return self.make("providerConfig:create", providerId=self.github["id"],
                         config={"type": "inline", "data": {"org": "acme"}}, **where)


RULE = {"type": "tool_keys", "keys": ["create_issue"]}


def patch_without_filters(w: World) -> Result:
    made = w.deployment(toolFilters=RULE)
    w.make("providerDeployment:update", providerDeploymentId=made["id"], name="renamed")
    after = w.make("providerDeployment:get", providerDeploymentId=made["id"])
    return {"filter_before": made["toolFilter"], "filter_after": after["toolFilter"]}


def patch_with_filters(w: World) -> Result:
    made = w.deployment(toolFilters=RULE)
    w.make("providerDeployment:update", providerDeploymentId=made["id"], name="renamed", toolFilters=[RULE])
    return {"filter_after": w.make("providerDeployment:get", providerDeploymentId=made["id"])["toolFilter"]}


def text_trimming(w: World) -> Result:
    made = w.deployment(name="  made  ", description=" d ")
    patched = w.make("providerDeployment:update", providerDeploymentId=made["id"], name="  kept  ", description=" e ")
    auth = w.auth_config()
    auth_patched = w.make("providerAuthConfig:update", providerAuthConfigId=auth["id"], ip="127.0.0.1",
                          ua="scenario", name="  trimmed  ", description="")
    return {"create": [made["name"], made["description"]], "patch": [patched["name"], patched["description"]],
            "auth_config_patch_name": auth_patched["name"],
            "auth_config_blank_description": auth_patched["description"]}


def template_with(w: World, *providers: dict[str, Any]) -> Result:
    return outcome(w.call("sessionTemplate:create", name="t", providers=list(providers)))


def empty_provider(w: World) -> Result:
    return template_with(w, {})


def mismatched_providers(w: World) -> Result:
    calculator = w.make("providerDeployment:create", providerId=w.calculator["id"])
    return template_with(w, {"providerDeploymentId": calculator["id"], "providerAuthConfigId": w.auth_config()["id"]})


def no_auth_config(w: World) -> Result:
    return template_with(w, {"providerDeploymentId": w.deployment()["id"], "providerConfigId": w.config()["id"]})


def no_config_required_schema(w: World) -> Result:
    deployment = w.deployment()
    return template_with(w, {"providerDeploymentId": deployment["id"], "providerAuthConfigId": w.auth_config()["id"]})


def auth_config_other_deployment(w: World) -> Result:
    mine, other = w.deployment(), w.deployment()
    return template_with(w, {"providerDeploymentId": mine["id"], "providerConfigId": w.config()["id"],
                             "providerAuthConfigId": w.auth_config(other["id"])["id"]})


def vault_of_other_provider(w: World) -> Result:
    vault = w.make("providerConfigVault:create", providerId=w.calculator["id"], name="v",
                   config={"type": "inline", "data": {}})
    return outcome(w.call("providerConfig:create", providerId=w.github["id"],
                          config={"type": "vault", "providerConfigVaultId": vault["id"]}))


def vault_lock(w: World) -> Result:
    bound, other = w.deployment(), w.deployment()
    vault = w.make("providerConfigVault:create", providerId=w.github["id"], name="v",
                   providerDeploymentId=bound["id"], config={"type": "inline", "data": {"org": "a"}})
    refused = outcome(w.call("providerConfig:create", providerId=w.github["id"],
                             providerDeployment={"type": "reference", "providerDeploymentId": other["id"]},
                             config={"type": "vault", "providerConfigVaultId": vault["id"]}))
    inherited = w.make("providerConfig:create", providerId=w.github["id"],
                       config={"type": "vault", "providerConfigVaultId": vault["id"]})
    deployment = (inherited.get("deployment") or {}).get("id")
    return {"other_deployment": refused, "inherits_vault_deployment": deployment == bound["id"]}


def deployments_by_version(w: World) -> Result:
    version = w.s.call("providerVersion:list", providerIds=[w.github["id"]], limit=5, **w.base)["items"][0]
    locked = w.deployment(lockedProviderVersionId=version["id"])
    unlocked = w.deployment()
    listed = w.make("providerDeployment:list", providerVersionIds=[version["id"]], limit=100)["items"]
    ids = {d["id"] for d in listed}
    return {"locked_listed": locked["id"] in ids, "unlocked_listed": unlocked["id"] in ids}


def templates_by_deployment(w: World) -> Result:
    mine, other = w.deployment(), w.deployment()
    entry = {"providerConfigId": w.config()["id"]}
    a = w.make("sessionTemplate:create", name="a", providers=[
        {"providerDeploymentId": mine["id"], "providerAuthConfigId": w.auth_config()["id"], **entry}])
    w.make("sessionTemplate:create", name="b", providers=[
        {"providerDeploymentId": other["id"], "providerAuthConfigId": w.auth_config()["id"],
         "providerConfigId": w.config()["id"]}])
    listed = w.make("sessionTemplate:list", providerDeploymentIds=[mine["id"]], limit=100)["items"]
    return {"listed_only_the_match": [t["id"] for t in listed] == [a["id"]]}


SCENARIOS: dict[str, Callable[[World], Result]] = {
    "deployment_patch_without_tool_filters": patch_without_filters,
    "deployment_patch_with_tool_filters": patch_with_filters,
    "text_trimming_create_and_patch": text_trimming,
    "template_provider_empty": empty_provider,
    "template_provider_mismatched_providers": mismatched_providers,
    "template_provider_without_auth_config": no_auth_config,
    "template_provider_default_config_required": no_config_required_schema,
    "template_provider_auth_config_of_other_deployment": auth_config_other_deployment,
    "config_from_vault_of_other_provider": vault_of_other_provider,
    "config_from_vault_lock_and_inheritance": vault_lock,
    "deployments_filtered_by_version": deployments_by_version,
    "templates_filtered_by_deployment": templates_by_deployment,
}


def run(url: str) -> Result:
    s, base = connect(url)
    world = World(s, base)
    results = {}
    for name, scenario in SCENARIOS.items():
        try:
            results[name] = scenario(world)
        except (AssertionError, KeyError, StopIteration) as e:  # a scenario the engine could not set up
            results[name] = {"not_reachable": f"{type(e).__name__}: {e}"[:300]}
    return {"engine": {"subspace": ENGINE_COMMIT}, "scenarios": results}


if __name__ == "__main__":
    target = os.environ.get("SUBSPACE_URL") or (sys.argv[1] if len(sys.argv) > 1 else "")
    if not target:
        sys.exit("SUBSPACE_URL (or argv[1]) must name the controller's /subspace-controller URL")
    print(json.dumps(run(target), indent=2, sort_keys=True, default=str))
