"""Issue 22's rules as scenarios, defined once and run two ways: against the platform's engine
(subspace over its RPC, engine_world.py; /work/shared/real-engine/README.md) and against the
emulator over REST (tests/engine/emulator_world.py). Each scenario asks a `World` for the same
steps and answers one small JSON outcome, so the two can be compared with the recording under
tests/engine/recorded/ (tests/engine/test_replay.py does, on every test run).

Stdlib only; recorded with `python3 -m tests.engine.scenarios.engine_world` (engine_world.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Result = dict[str, Any]
# A made object in the worlds' common form: id, name, description, rules ("all" or the tool-filter
# rules), deployment (its id or None), default_config (a deployment's: {id, name} or None),
# configs (a template's providers' config ids). Each world maps its own shape onto it.
Obj = dict[str, Any]
# A template provider's pieces by role: {"deployment": id, "config": id, "auth_config": id}.
Pieces = dict[str, str]


class Refused(Exception):
    """A call the platform refused: status, code and message (messages are part of the contract)."""

    def __init__(self, status: int | None, code: str | None, message: str | None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class World(Protocol):
    """The steps the scenarios take. "main" is a provider with a manual (token) auth method and a
    config schema with required properties; "other" is another provider; "schemaless" one with no
auth methods whose config schema is `{type: object}` without properties. Every call raises
    `Refused` when the platform refuses it."""

    def deployment(self, provider: str = "main", *, rules: list[Result] | None = None, name: str | None = None,
                   description: str | None = None, locked_version: str | None = None) -> Obj: ...
    def update_deployment(self, ident: str, *, name: str | None = None, description: str | None = None,
                          rules: list[Result] | None = None) -> Obj: ...
    def get_deployment(self, ident: str) -> Obj: ...
    def auth_config(self, deployment: str | None = None) -> Obj: ...
    def update_auth_config(self, ident: str, *, name: str, description: str) -> Obj: ...
    def config(self, deployment: str | None = None) -> Obj: ...
    def vault(self, provider: str = "main", *, deployment: str | None = None) -> Obj: ...
    def config_from_vault(self, vault: str, *, deployment: str | None = None) -> Obj: ...
    def template(self, name: str, providers: list[Pieces]) -> Obj: ...
    def main_version(self) -> str: ...
    def deployments_by_version(self, version: str) -> list[str]: ...
    def templates_by_deployment(self, deployment: str) -> list[str]: ...


def common_form(made: dict[str, Any], tool_filter: str, allow_all: str, default_config: str) -> Obj:
    """An answered object in the common form, given the names its side uses: the filter field and
    its allow-all type ({type: <allow_all>} or {type: …, filters}), the default config field."""
    rules = made.get(tool_filter) or {}
    default = made.get(default_config)
    return {"id": made["id"], "name": made.get("name"), "description": made.get("description"),
            "rules": "all" if rules.get("type", allow_all) == allow_all else rules.get("filters"),
            "deployment": (made.get("deployment") or {}).get("id"),
            "default_config": {"id": default["id"], "name": default.get("name")} if default else None,
            "configs": [(p.get("config") or {}).get("id") for p in made.get("providers") or []]}


def outcome(step: Callable[[], Any]) -> Result:
    """Accepted, or refused with status, code and message."""
    try:
        step()
    except Refused as e:
        return {"accepted": False, "status": e.status, "code": e.code, "message": e.message}
    return {"accepted": True}


RULE = {"type": "tool_keys", "keys": ["create_issue"]}


def patch_without_filters(w: World) -> Result:
    made = w.deployment(rules=[RULE])
    w.update_deployment(made["id"], name="renamed")
    return {"filter_before": made["rules"], "filter_after": w.get_deployment(made["id"])["rules"]}


def patch_with_filters(w: World) -> Result:
    made = w.deployment(rules=[RULE])
    w.update_deployment(made["id"], name="renamed", rules=[RULE])
    return {"filter_after": w.get_deployment(made["id"])["rules"]}


def text_trimming(w: World) -> Result:
    made = w.deployment(name="  made  ", description=" d ")
    patched = w.update_deployment(made["id"], name="  kept  ", description=" e ")
    auth = w.update_auth_config(w.auth_config()["id"], name="  trimmed  ", description="")
    return {"create": [made["name"], made["description"]], "patch": [patched["name"], patched["description"]],
            "auth_config_patch_name": auth["name"], "auth_config_blank_description": auth["description"]}


def empty_provider(w: World) -> Result:
    return outcome(lambda: w.template("t", [{}]))


def mismatched_providers(w: World) -> Result:
    other = w.deployment("other")
    return outcome(lambda: w.template("t", [{"deployment": other["id"], "auth_config": w.auth_config()["id"]}]))


def no_auth_config(w: World) -> Result:
    return outcome(lambda: w.template("t", [{"deployment": w.deployment()["id"], "config": w.config()["id"]}]))


def no_config_required_schema(w: World) -> Result:
    pieces = {"deployment": w.deployment()["id"], "auth_config": w.auth_config()["id"]}
    return outcome(lambda: w.template("t", [pieces]))


def auth_config_other_deployment(w: World) -> Result:
    mine, other = w.deployment(), w.deployment()
    pieces = {"deployment": mine["id"], "config": w.config()["id"], "auth_config": w.auth_config(other["id"])["id"]}
    return outcome(lambda: w.template("t", [pieces]))


def vault_of_other_provider(w: World) -> Result:
    vault = w.vault("other")
    return outcome(lambda: w.config_from_vault(vault["id"]))


def vault_lock(w: World) -> Result:
    bound, other = w.deployment(), w.deployment()
    vault = w.vault(deployment=bound["id"])
    refused = outcome(lambda: w.config_from_vault(vault["id"], deployment=other["id"]))
    inherited = w.config_from_vault(vault["id"])
    return {"other_deployment": refused, "inherits_vault_deployment": inherited["deployment"] == bound["id"]}


def deployments_by_version(w: World) -> Result:
    version = w.main_version()
    locked, unlocked = w.deployment(locked_version=version), w.deployment()
    ids = set(w.deployments_by_version(version))
    return {"locked_listed": locked["id"] in ids, "unlocked_listed": unlocked["id"] in ids}


def templates_by_deployment(w: World) -> Result:
    mine, other = w.deployment(), w.deployment()
    a = w.template("a", [{"deployment": mine["id"], "auth_config": w.auth_config()["id"], "config": w.config()["id"]}])
    w.template("b", [{"deployment": other["id"], "auth_config": w.auth_config()["id"], "config": w.config()["id"]}])
    return {"listed_only_the_match": w.templates_by_deployment(mine["id"]) == [a["id"]]}


def schemaless_deployment(w: World) -> Result:
    made = w.deployment("schemaless", name="calc")
    template = w.template("t", [{"deployment": made["id"]}])
    default = made["default_config"] or {}
    return {"default_config_name": default.get("name"), "template_uses_it": template["configs"] == [default.get("id")]}


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
    "deployment_of_schemaless_provider_gets_default_config": schemaless_deployment,
}


def run_one(world: World, name: str) -> Result:
    """One scenario's outcome; a step the world cannot take at all is recorded as not reachable."""
    try:
        return SCENARIOS[name](world)
    except Refused as e:  # a set-up step refused: the scenario could not be asked
        return {"not_reachable": f"set-up refused: {e}"[:300]}
