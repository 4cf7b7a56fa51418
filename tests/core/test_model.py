"""Core value types: addresses, secrets that never print, stamps in metadata, specs."""

import json
import pickle

import pytest
from pydantic import ValidationError

from metorial_apply.core import kinds, specs
from metorial_apply.core.model import Address, Catalog, CatalogProvider, Resource, SecretValue, Stamp, spec_hash
from metorial_apply.core.state import State

CANARY = "canary-7f3a9c-never-print"


def test_address_round_trip_and_parse_errors() -> None:
    a = Address.parse("config.github-prod")
    assert (a.kind, a.name, str(a)) == ("config", "github-prod", "config.github-prod")
    assert Address.parse("session_template.a.b").name == "a.b"
    for bad in ("config", ".x", "config."):
        with pytest.raises(ValueError):
            Address.parse(bad)


def test_secret_value_never_prints_but_compares_by_content() -> None:
    s = SecretValue({"token": CANARY})
    r = Resource(address=Address(kind="config", name="x"), spec={}, secret=s)
    texts = [
        str(s),
        repr(s),
        f"{s}",
        f"{s!r}",
        repr(r),
        str(r),
        r.model_dump_json(),
        json.dumps(r.model_dump(mode="json")),
    ]
    assert all(CANARY not in t for t in texts)
    assert s == SecretValue({"token": CANARY}) and s != SecretValue({"token": "other"})
    assert hash(s) == hash(SecretValue({"token": CANARY}))
    assert s.reveal() == {"token": CANARY}
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with pytest.raises(AttributeError):
        s._value = 1  # type: ignore[misc]


def test_stamp_metadata_round_trip_keeps_user_keys_apart() -> None:
    stamp = Stamp(stack="prod", address="config.x", spec_hash="sha256:ab", secret_fingerprint="fp", secret_salt="salt")
    metadata = {"team": "support"} | stamp.to_metadata()
    assert set(metadata) == {"team", "metorial-apply/stack", "metorial-apply/address", "metorial-apply/spec-hash",
                             "metorial-apply/secret-fingerprint", "metorial-apply/secret-salt"}
    user, back = Stamp.split(metadata)
    assert user == {"team": "support"} and back == stamp and not back.protect
    guarded = stamp.model_copy(update={"protect": True})
    assert guarded.to_metadata()["metorial-apply/protect"] == "true"
    assert Stamp.split(guarded.to_metadata())[1] == guarded


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        {},
        {"team": "x"},
        {"metorial-apply/stack": "p"},
        {"metorial-apply/stack": "p", "metorial-apply/address": 1, "metorial-apply/spec-hash": "h"},
    ],
)
def test_stamp_split_rejects_missing_or_malformed_stamps(metadata: dict | None) -> None:
    assert Stamp.split(metadata)[1] is None


def test_spec_hash_ignores_key_order_and_sensitive_fields() -> None:
    a = {"name": "x", "description": "d"}
    assert spec_hash(a) == spec_hash({"description": "d", "name": "x"})
    assert spec_hash(a) != spec_hash({"name": "x", "description": "e"})
    assert spec_hash(a, frozenset({"description"})) == spec_hash(
        {"name": "x", "description": "other"}, frozenset({"description"})
    )


def test_state_is_sorted_by_kind_order_then_name_and_rejects_duplicates() -> None:
    def res(kind: str, name: str) -> Resource:
        return Resource(address=Address(kind=kind, name=name), spec={})

    state = State.of(
        "p", [res("session_template", "a"), res("config", "b"), res("deployment", "z"), res("deployment", "a")]
    )
    assert [str(r.address) for r in state] == ["deployment.a", "deployment.z", "config.b", "session_template.a"]
    with pytest.raises(ValueError, match="duplicate"):
        State.of("p", [res("config", "b"), res("config", "b")])


def test_catalog_finds_by_id_slug_or_identifier() -> None:
    gh = CatalogProvider(id="pro_1", slug="github", identifier="metorial/github", name="GitHub")
    cat = Catalog(providers=(gh,))
    assert cat.find("pro_1") is cat.find("github") is cat.find("metorial/github") is gh
    assert cat.find("gitlab") is None and cat.slugs() == ["github"]


def test_tools_shorthand_becomes_api_rules() -> None:
    d = specs.DeploymentSpec(provider="github", tools=["create_issue", {"tool_regex": "^list_"}, "close_issue"])
    spec, secret = d.canonical("gh")
    assert secret is None
    assert spec["tool_filters"] == [{"type": "tool_keys", "keys": ["close_issue", "create_issue"]},
                                    {"type": "tool_regex", "pattern": "^list_"}]
    assert specs.DeploymentSpec(provider="github").canonical("gh")[0]["tool_filters"] == []


def test_common_fields_normalise_name_and_description() -> None:
    spec, _ = specs.DeploymentSpec(provider="github", description="  ", name=" GH ").canonical("gh")
    assert (spec["name"], spec["description"]) == ("GH", None)
    assert specs.DeploymentSpec(provider="github").canonical("gh")[0]["name"] == "gh"


@pytest.mark.parametrize("pad", ["\ufeff", "\x1c", "\x85", "\u3000", " \ufeff\t"])
def test_names_are_trimmed_whichever_way_the_api_trims(pad: str) -> None:
    # Found by tests/plan/test_converge_property.py: the API trims as JavaScript does, which drops
    # U+FEFF but keeps U+001C; trimming only as Python does planned `description: 'x' -> '\ufeffx'`
    # forever, and a template named "\ufeff" was sent as a name the API trims to nothing (400).
    spec, _ = specs.SessionTemplateSpec(name=pad, description=f"{pad}x{pad}").canonical("bot")
    assert (spec["name"], spec["description"]) == ("bot", "x")
    live = kinds.template_from_api({"name": f"{pad}bot", "description": f"x{pad}"}, None)  # type: ignore[arg-type]
    assert (live["name"], live["description"]) == ("bot", "x")


@pytest.mark.parametrize("model, data", [
    (specs.ToolRule, {}),
    (specs.ToolRule, {"tool_keys": ["a"], "tool_regex": "b"}),
    (specs.ConfigSpec, {"deployment": "gh"}),
    (specs.ConfigSpec, {"deployment": "gh", "value": {}, "vault": "v"}),
    (specs.ConfigSpec, {"value": {}}),
    (specs.DeploymentSpec, {"provider": "github", "metadata": {"metorial-apply/stack": "x"}}),
    (specs.DeploymentSpec, {"provider": "github", "unknown": 1}),
    (specs.SessionTemplateSpec, {"providers": [{"deployment": "a"}, {"deployment": "a"}]}),
])
def test_spec_models_reject_invalid_shapes(model: type, data: dict) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_write_only_values_leave_the_spec() -> None:
    spec, secret = specs.ConfigSpec(deployment="gh", value={"token": CANARY}).canonical("c")
    assert CANARY not in json.dumps(spec) and secret == {"token": CANARY}
    spec, secret = specs.AuthCredentialsSpec(provider="github", client_id="id", client_secret=CANARY,
                                             scopes=["b", "a", "a"]).canonical("c")
    assert spec["scopes"] == ["a", "b"] and CANARY not in json.dumps(spec) and secret["client_secret"] == CANARY


def test_stamp_keeps_the_held_key_generations_and_old_stamps_hold_none() -> None:
    from metorial_apply.core.model import parse_held

    stamp = Stamp(stack="prod", address="config_vault.v", spec_hash="sha256:x", keys="sync=ci_1")
    metadata = stamp.to_metadata()
    assert metadata["metorial-apply/keys"] == "sync=ci_1"
    _, back = Stamp.split(metadata)
    assert back == stamp and parse_held(back.keys) == {"sync": "ci_1"}
    older = {k: v for k, v in metadata.items() if k != "metorial-apply/keys"}
    _, old = Stamp.split(older)
    assert old is not None and old.keys is None and parse_held(old.keys) is None
    assert "metorial-apply/keys" not in Stamp(stack="p", address="a.b", spec_hash="h").to_metadata()


def test_address_equality_and_hash_are_by_kind_and_name_only() -> None:
    from metorial_apply.core.model import Address

    a = Address(kind="config", name="github")
    assert a == Address.parse("config.github") and hash(a) == hash(Address.parse("config.github"))
    assert a != Address(kind="config", name="github2") and a != Address(kind="deployment", name="github")
    assert a != "config.github" and a != ("config", "github")
    assert {a: 1}[Address(kind="config", name="github")] == 1
