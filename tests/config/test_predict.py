"""Predicted refusals against a hand-made catalog, and the live defaults that lift them."""

from __future__ import annotations

from pathlib import Path

from metorial_apply.api.live import live_state
from metorial_apply.config.load import load_config
from metorial_apply.config.predict import has_required_config, predicted_problems
from metorial_apply.core.model import Catalog, CatalogProvider, Defaults

SCHEMA = {"type": "object", "properties": {"workspace": {"type": "string"}}, "required": ["workspace"]}
CATALOG = Catalog(providers=(
    CatalogProvider(id="pro_1", slug="slack", identifier="slack", name="Slack", config_schema=SCHEMA,
                    auth_methods={"bot_token": "pam_1"}, tools=("list_channels", "send_message")),
    CatalogProvider(id="pro_2", slug="search", identifier="search", name="Search", config_schema=None, tools=None),
))
YAML = """\
stack: s
deployments:
  sl: {provider: slack, tools: [send_mesage]}
  se: {provider: search, tools: [anything]}
session_templates:
  bot:
    providers:
      - {deployment: sl}
      - {deployment: se}
"""


def problems(tmp_path: Path, defaults: Defaults | None = None) -> list[str]:
    path = tmp_path / "stack.yaml"
    path.write_text(YAML)
    found = predicted_problems(load_config(path), CATALOG, defaults)
    return [f"{d.line}:{d.column} {d.path}: {d.message} | {d.hint}" for d in found]


def test_each_refusal_is_found_once_at_its_node(tmp_path: Path) -> None:
    assert problems(tmp_path) == [
        '3:33 deployments.sl.tools[0]: provider slack has no tool "send_mesage" | did you mean "send_message"?',
        "8:9 session_templates.bot.providers[0]: the API requires a config for this provider (400 config_required)"
        " | slack's config schema requires workspace and deployment sl has no default config: give this provider"
        " a config",
        "8:9 session_templates.bot.providers[0]: the API requires an auth config for this provider "
        "(400 auth_config_required) | slack has auth methods and deployment sl has no default auth config: give"
        " this provider an auth_config",
    ]  # the search provider: no auth methods, no schema, tools unknown (not read): nothing to say


def test_live_defaults_lift_the_template_rules(tmp_path: Path) -> None:
    found = problems(tmp_path, Defaults(config=frozenset({"sl"}), auth_config=frozenset({"sl"})))
    assert [p.split(":")[0] for p in found] == ["3"]


def test_has_required_config_follows_the_platform_source() -> None:
    assert not has_required_config(None)
    assert not has_required_config({"type": "object", "properties": {"a": {}}})
    assert has_required_config({"type": "object", "properties": {"a": {}}, "required": ["a"]})
    # No properties: no schema at all (normalizeJsonSchema runs first, issue 22 item 5).
    assert not has_required_config({"type": "object"})
    assert not has_required_config({"type": "object", "properties": {}, "required": ["a"]})
    assert has_required_config({"type": "string"})


def test_the_live_read_finds_default_configs_and_default_auth_configs() -> None:
    stamp = {"metorial-apply/stack": "s", "metorial-apply/spec-hash": "sha256:0"}
    deployments = [
        {"id": "pde_1", "provider_id": "pro_1", "metadata": stamp | {"metorial-apply/address": "deployment.a"},
         "default_config": {"id": "pcf_1"}},
        {"id": "pde_2", "provider_id": "pro_1", "metadata": stamp | {"metorial-apply/address": "deployment.b"},
         "default_config": None},
    ]
    auth_configs = [{"id": "pac_1", "is_default": True, "status": "active", "deployment": {"id": "pde_2"}},
                    {"id": "pac_2", "is_default": False, "status": "active", "deployment": {"id": "pde_1"}}]
    read = live_state("s", CATALOG, {"deployment": deployments, "auth_config": auth_configs})
    assert read.defaults == Defaults(config=frozenset({"a"}), auth_config=frozenset({"b"}))


def test_what_hangs_on_a_deployment_locked_to_another_version_is_not_checked(tmp_path: Path) -> None:
    catalog = Catalog(providers=(CATALOG.providers[0].model_copy(update={
        "versions": {"1.0": "prv_old", "2.0": "prv_new"}, "current_version_id": "prv_new", "auth_methods": {}}),))
    path = tmp_path / "stack.yaml"
    path.write_text("stack: s\ndeployments:\n  old: {provider: slack, version: '1.0', tools: [gone]}\n"
                    "  new: {provider: slack, tools: [gone]}\n"
                    "configs:\n  c: {deployment: old, value: {workspace: w}, tools: [gone]}\n")
    found = predicted_problems(load_config(path), catalog)
    assert [d.path for d in found] == ["deployments.new.tools[0]"]  # the old version's tools are not read


def test_an_unknown_tool_key_from_a_secret_is_named_by_its_source_never_its_value(tmp_path: Path) -> None:
    canary = "canary-tool-5e1d7c"
    path = tmp_path / "stack.yaml"
    path.write_text('stack: s\nvariables: {t: "${env:TOOL}"}\ndeployments:\n'
                    '  sl: {provider: slack, tools: ["${var.t}"]}\n'
                    '  pl: {provider: slack, tools: ["${env:TOOL}"]}\n')
    found = predicted_problems(load_config(path, env={"TOOL": canary}), CATALOG)
    assert [d.message for d in found] == ["provider slack has no tool (a value from ${env:} or ${file:})"] * 2
    assert all(canary not in str(d) and canary not in (d.hint or "") for d in found)
    assert found[0].hint == "slack tools: list_channels, send_message"  # no did-you-mean of the value


def test_a_config_with_nothing_to_report_is_not_read_again(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The YAML is parsed again only to position a problem: a clean plan never pays for it."""
    import metorial_apply.config.predict as predict

    path = tmp_path / "stack.yaml"
    path.write_text("stack: s\ndeployments:\n  sl: {provider: slack, tools: [send_message, {tool_regex: ^list_}]}\n"
                    "session_templates:\n  bot:\n    providers:\n"
                    "      - {deployment: sl, tools: [list_channels]}\n")
    desired = load_config(path)
    reads: list[str] = []
    real = predict.read_yaml_file
    monkeypatch.setattr(predict, "read_yaml_file", lambda *a: reads.append(a[0]) or real(*a))
    live = Defaults(config=frozenset({"sl"}), auth_config=frozenset({"sl"}))
    assert predicted_problems(desired, CATALOG, live) == [] and reads == []
    assert predicted_problems(desired, CATALOG) != [] and reads == [str(path)]  # a problem: read once, to position it
