"""The kinds registry: API bodies from canonical specs and canonical specs from API objects."""

from typing import Any

import pytest

from metorial_apply.core import kinds
from metorial_apply.core.model import Address, Stamp

STAMP = Stamp(stack="prod", address="deployment.gh", spec_hash="sha256:1").to_metadata()


class FakeIds:
    def id_of(self, address: Address) -> str:
        return f"id-{address}"

    def provider_id(self, provider: str) -> str:
        return f"pro-{provider}"

    def method_id(self, provider: str, method: str) -> str:
        return f"pam-{provider}-{method}"

    def version_id(self, provider: str, version: str) -> str:
        return f"prv-{provider}-{version}"


class FakeNames:
    def name_of(self, kind: str, id: str) -> str:
        return id.removeprefix("id-").removeprefix(f"{kind}.")

    def provider_slug(self, provider_id: str) -> str:
        return provider_id.removeprefix("pro-")


def canonical(kind: str, data: dict[str, Any], name: str = "x") -> tuple[dict[str, Any], Any]:
    return kinds.KINDS[kind].model.model_validate(data).canonical(name)


def test_every_kind_is_registered_once_with_consistent_fields() -> None:
    assert [k.kind for k in sorted(kinds.KINDS.values(), key=lambda k: k.order)] == [
        "api_key", "deployment", "config_vault", "config", "auth_credentials", "auth_config", "session_template"]
    assert [k.kind for k in kinds.KINDS.values() if k.api == kinds.KEY_BACKEND] == ["api_key"]
    for k in kinds.KINDS.values():
        assert k.kind in kinds.METORIAL_KINDS or k.api != kinds.METORIAL
        assert k.kind not in kinds.METORIAL_KINDS or kinds.SECTIONS[k.section] is k
        assert not (k.create_only & k.patchable), k.kind
        assert set(k.refs.values()) <= set(kinds.KINDS)
        assert k.patchable <= set(kinds.PATCH_KEYS) | kinds.METADATA_FIELDS


def test_create_body_carries_everything_and_metadata_in_one_call() -> None:
    spec, secret = canonical(
        "config", {"deployment": "gh", "provider": "github", "value": {"token": "t"}, "tools": ["a"]}
    )
    body = kinds.create_body(kinds.KINDS["config"], spec, secret, {"team": "x"} | STAMP, FakeIds())
    assert body == {"name": "x", "provider_id": "pro-github", "provider_deployment_id": "id-deployment.gh",
                    "tool_filters": [{"type": "tool_keys", "keys": ["a"]}], "value": {"token": "t"},
                    "metadata": {"team": "x"} | STAMP}


def test_patch_body_sends_only_changed_fields_and_whole_metadata() -> None:
    spec, _ = canonical("deployment", {"provider": "github", "description": "d", "version": "1.0"})
    kind = kinds.KINDS["deployment"]
    # tool_filters always travel with a deployment PATCH: the March engine resets them otherwise
    assert kinds.patch_body(kind, spec, frozenset({"description"}), None, STAMP, FakeIds()) == {
        "description": "d", "tool_filters": [], "metadata": STAMP}
    unlocked = spec | {"version": None, "description": None}
    body = kinds.patch_body(kind, unlocked, frozenset({"version", "description"}), None, STAMP, FakeIds())
    assert body == {"locked_provider_version_id": None, "description": "", "tool_filters": [], "metadata": STAMP}
    config, _ = canonical("config", {"provider": "github", "description": "d", "value": {}})
    assert "tool_filters" not in kinds.patch_body(kinds.KINDS["config"], config, frozenset({"description"}), None,
                                                  STAMP, FakeIds())
    # create-only fields never reach a PATCH even when asked
    assert "provider_id" not in kinds.patch_body(kind, spec, frozenset({"provider"}), None, STAMP, FakeIds())


def test_no_kind_sends_a_secret_in_a_patch() -> None:
    """Every write-only value is create-only: the engine keeps an OAuth client on update (200)."""
    assert not any(k.secret_patchable for k in kinds.KINDS.values())
    spec, secret = canonical("auth_credentials", {"provider": "github", "client_id": "i", "client_secret": "s"})
    body = kinds.patch_body(kinds.KINDS["auth_credentials"], spec, frozenset({"scopes"}), secret, STAMP, FakeIds())
    assert body == {"metadata": STAMP}
    spec, secret = canonical("config", {"provider": "github", "value": {"a": 1}})
    assert "value" not in kinds.patch_body(kinds.KINDS["config"], spec, frozenset(), secret, STAMP, FakeIds())


def test_template_references_include_nested_providers() -> None:
    spec, _ = canonical("session_template", {"providers": [{"deployment": "b", "config": "cb"}, {"deployment": "a"}]})
    refs = kinds.KINDS["session_template"].references(spec)
    assert refs == [("providers[0].deployment", Address(kind="deployment", name="a")),
                    ("providers[1].deployment", Address(kind="deployment", name="b")),
                    ("providers[1].config", Address(kind="config", name="cb"))]


API_OBJECTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "deployment": (
        {"provider": "github", "description": "d", "tools": ["a"], "version": "2.0", "metadata": {"team": "t"}},
        {"name": "x", "description": "d", "metadata": {"team": "t"} | STAMP, "provider_id": "pro-github",
         "tool_filter": {"type": "filter", "filters": [{"type": "tool_keys", "keys": ["a"]}]},
         "locked_version": {"version": "2.0"}},
    ),
    "config": (
        {"deployment": "gh", "provider": "github", "vault": "v"},
        {"name": "x", "description": None, "metadata": STAMP, "provider_id": "pro-github",
         "deployment": {"id": "id-deployment.gh"}, "from_vault": {"id": "id-config_vault.v"},
         "tool_filter": {"type": "allow_all"}},
    ),
    "config_vault": (
        {"provider": "github", "value": {"a": 1}},
        {"name": "x", "description": "", "metadata": {}, "provider_id": "pro-github", "deployment": None},
    ),
    "auth_config": (
        {"deployment": "gh", "provider": "github", "method": "oauth", "value": {}},
        {"name": "x", "metadata": {}, "provider_id": "pro-github", "deployment": {"id": "id-deployment.gh"},
         "auth_method": {"key": "oauth"}, "tool_filter": None},
    ),
    "auth_credentials": (
        {"provider": "github", "client_id": "i", "client_secret": "s", "scopes": ["repo", "user"]},
        {"name": "x", "metadata": {}, "provider_id": "pro-github", "scopes": ["user", "repo"]},
    ),
    "session_template": (
        {"providers": [{"deployment": "gh", "config": "c", "tools": ["a"]}, {"deployment": "sl"}]},
        {"name": "x", "metadata": {}, "providers": [
            {"status": "active", "deployment": {"id": "id-deployment.sl"}, "config": {"id": "id-config.dflt"},
             "auth_config": None, "tool_filter": {"type": "allow_all"}},
            {"status": "archived", "deployment": {"id": "id-deployment.zz"}},
            {"status": "active", "deployment": {"id": "id-deployment.gh"}, "config": {"id": "id-config.c"},
             "auth_config": None, "tool_filter": {"type": "filter", "filters": [{"type": "tool_keys", "keys": ["a"]}]}},
        ]},
    ),
}


@pytest.mark.parametrize("kind", sorted(API_OBJECTS))
def test_from_api_yields_the_desired_canonical_spec(kind: str) -> None:
    yaml_spec, api_object = API_OBJECTS[kind]
    desired, _ = canonical(kind, yaml_spec)
    live = kinds.KINDS[kind].from_api(api_object, FakeNames())
    if kind == "session_template":  # a provider without a config gets the deployment's default
        desired["providers"][1]["config"] = "dflt"
    assert live == desired


def test_sort_key_puts_unknown_kinds_last() -> None:
    keys = sorted(
        [Address(kind="zzz", name="a"), Address(kind="config", name="b"), Address(kind="deployment", name="c")],
        key=kinds.sort_key,
    )
    assert [a.kind for a in keys] == ["deployment", "config", "zzz"]


def test_credentials_create_nests_the_oauth_client_which_no_patch_changes() -> None:
    spec, secret = canonical("auth_credentials", {"provider": "github", "client_id": "i", "client_secret": "s",
                                                  "scopes": ["repo"]})
    kind = kinds.KINDS["auth_credentials"]
    body = kinds.create_body(kind, spec, secret, STAMP, FakeIds())
    assert body["config"] == {"type": "oauth", "client_id": "i", "client_secret": "s", "scopes": ["repo"]}
    assert not {"client_id", "client_secret", "scopes"} & set(body)
    assert kind.create_only >= {"scopes"} and kind.bound_by == ("auth_config", "credentials")


def test_tool_rules_compare_as_sets_on_both_sides() -> None:
    # Found by tests/plan/test_converge_property.py: `tools: [b, a, a]` after the API stored
    # `[a, b]` (or the YAML was reordered) planned "tools changed" forever.
    written = canonical("deployment", {"provider": "github", "tools": [
        "list_issues", {"tool_regex": "^get_"}, "create_issue", "list_issues", {"resource_uris": ["b", "a", "b"]}]})[0]
    stored = {
        "type": "filter",
        "ignore_parent_filters": False,
        "filters": [
            {"type": "resource_uris", "uris": ["a", "b"]},
            {"type": "tool_regex", "pattern": "^get_"},
            {"type": "tool_keys", "keys": ["create_issue", "list_issues", "create_issue"]},
            {"type": "tool_regex", "pattern": "^get_"},
        ],
    }
    live = kinds.deployment_from_api({"provider_id": "pro-github", "name": "x", "tool_filter": stored}, FakeNames())
    assert written["tool_filters"] == live["tool_filters"] == [
        {"type": "tool_keys", "keys": ["create_issue", "list_issues"]}, {"type": "tool_regex", "pattern": "^get_"},
        {"type": "resource_uris", "uris": ["a", "b"]}]
