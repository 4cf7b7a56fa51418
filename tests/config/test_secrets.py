"""Canary secrets planted through ${env:…} and ${file:…} never appear in any output of
validate, including the errors about the very fields that hold them."""

from __future__ import annotations

from pathlib import Path

import pytest

from metorial_apply.config.load import load_config, resolve_names
from metorial_apply.core.errors import ConfigError
from metorial_apply.core.model import Catalog, CatalogProvider

ENV_CANARY = "canary-env-7f3a9c1e5b"
FILE_CANARY = "canary-file-2d8e4b6a90"
CANARIES = (ENV_CANARY, FILE_CANARY)

# Every field that can hold a planted value, several of them invalid so that errors are
# reported about the field holding the secret.
BROKEN = """stack: s
variables: {from_env: "${env:CANARY}"}
deployments:
  github:
    provider: github
    description: "${env:CANARY}"
  broken:
    provider: github
    protect: "${env:CANARY}"
    metadata: {a: "${file:canary.txt}", metorial-apply/x: "${env:CANARY}"}
    tools: [{tool_keys: ["${env:CANARY}"], tool_regex: "${file:canary.txt}"}]
  other:
    provider: "${file:canary.txt}"
configs:
  c1: {deployment: "${env:CANARY}", value: {token: "${env:CANARY}"}}
  c2: {deployment: github, provider: "${file:canary.txt}", value: {token: "${file:canary.txt}"}}
  c3: {deployment: "${var.from_env}", value: {}}
auth_configs:
  a1: {deployment: github, method: "${env:CANARY}", value: {token: 42}}
session_templates:
  t:
    providers:
      - {deployment: "${env:CANARY}"}
      - {deployment: "${env:CANARY}", config: "${file:canary.txt}"}
"""


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "canary.txt").write_text(FILE_CANARY + "\n", encoding="utf-8")
    (tmp_path / "stack.yaml").write_text(BROKEN, encoding="utf-8")
    monkeypatch.setenv("CANARY", ENV_CANARY)
    return tmp_path


def assert_clean(*texts: str) -> None:
    for text in texts:
        for canary in CANARIES:
            assert canary not in text


def test_validate_output_never_contains_a_planted_secret(broken: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    for extra in ([], ["--debug"], ["-vv"]):
        result = run_cli(*extra, "validate", str(broken))
        assert result.code == 1
        assert result.err.count("Error: ") >= 6, result.err  # the errors are there, the secrets are not
        assert_clean(result.out, result.err)
        assert 'deployment "github" uses provider "github", but this config has provider (a value from' in result.err


def test_stack_from_env_is_refused_without_echo(broken: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    (broken / "stack.yaml").write_text("stack: ${env:CANARY}\n", encoding="utf-8")
    result = run_cli("validate", str(broken))
    assert result.code == 1 and "stack cannot come from" in result.err
    assert_clean(result.out, result.err)


def test_exceptions_and_reprs_do_not_carry_secrets(broken: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(broken)
    assert_clean(str(exc.value), repr(exc.value), *(repr(d) for d in exc.value.diagnostics))


def test_valid_state_repr_hides_sensitive_fields_and_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "canary.txt").write_text(FILE_CANARY, encoding="utf-8")
    (tmp_path / "stack.yaml").write_text("""stack: s
deployments: {github: {provider: github, description: "${env:CANARY}"}}
auth_configs: {a: {deployment: github, method: token, value: {token: "${file:canary.txt}"}}}
""", encoding="utf-8")
    monkeypatch.setenv("CANARY", ENV_CANARY)
    state = load_config(tmp_path)
    assert_clean(repr(state), str(state), *(repr(r) for r in state))
    assert state.resources[0].spec["description"] == ENV_CANARY  # the value itself is intact


def test_online_schema_errors_do_not_echo_the_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "stack.yaml").write_text("""stack: s
deployments: {github: {provider: github}}
configs: {c: {deployment: github, value: {base_url: 5, extra: "${env:CANARY}"}}}
auth_configs: {a: {deployment: github, method: token, value: {token: "${env:CANARY}", more: "${env:CANARY}"}}}
""", encoding="utf-8")
    monkeypatch.setenv("CANARY", ENV_CANARY)
    schema = {"type": "object", "properties": {"base_url": {"type": "string"}}, "additionalProperties": False}
    token = {"type": "object", "properties": {"token": {"type": "string", "maxLength": 3}},
             "required": ["token"], "additionalProperties": False}
    catalog = Catalog(providers=(CatalogProvider(
        id="pro_1", slug="github", identifier="metorial-github", name="GitHub", config_schema=schema,
        auth_methods={"token": "pam_1"}, auth_method_schemas={"token": token}),))
    with pytest.raises(ConfigError) as exc:
        resolve_names(load_config(tmp_path), catalog)
    messages = [f"{d.path}: {d.message}" for d in exc.value.diagnostics]
    assert "configs.c.value.base_url: must be of type string" in messages
    assert 'auth_configs.a.value: unknown key "more"' in messages
    assert "auth_configs.a.value.token: must be at most 3 characters long" in messages
    assert_clean(str(exc.value), *messages, *(d.hint or "" for d in exc.value.diagnostics))
