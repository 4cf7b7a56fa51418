"""Canary secrets planted through ${env:…} and ${file:…} never appear in any output of
validate, including the errors about the very fields that hold them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metorial_apply.config.load import load_config
from metorial_apply.config.resolve import resolve_names
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


# -- the "before" side: values applied from a secret stay hidden for good -------------------
# Through the real CLI against the embedded emulator: after an apply from ${env:}/${file:} or a
# variable fed by one, the live objects hold the canary; no later plan may show it, in text,
# --json, --out or --markdown, whether the YAML now writes a literal or drops the resource.

FROM_ENV = """stack: canary
deployments:
  github:
    provider: github
    description: "${env:CANARY}"
"""
LITERAL = FROM_ENV.replace('"${env:CANARY}"', "written out now")
GONE = "stack: canary\ndeployments: {}\n"
VIA_VARIABLES = """stack: canary
variables: {v: "${env:CANARY}"}
deployments:
  github:
    provider: github
    name: "gh-${var.v}"
    description: "about ${var.v}"
    metadata: {team: "${var.v}", fixed: plain}
    tools: [{tool_regex: "^create_|${var.v}"}]
  plain: {provider: github, description: plain}
configs:
  gh-cfg: {deployment: github, value: {base_url: "https://example.com"}}
auth_configs:
  gh-auth: {deployment: github, method: token, value: {token: not-a-canary-token}}
session_templates:
  bot:
    description: "bot ${var.v}"
    providers: [{deployment: github, config: gh-cfg, auth_config: gh-auth, tools: [{tool_regex: "^get_|${var.v}"}]}]
"""
VIA_VAR_FILE = VIA_VARIABLES.replace('variables: {v: "${env:CANARY}"}\n', "")


def every_output(run_cli, path: Path, *extra: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Plan text (with its files) and plan --json: everything a plan shows or writes."""
    out, md = path / "plan.json", path / "plan.md"
    text = run_cli("plan", str(path), "--api-url", "local", "--out", str(out), "--markdown", str(md), *extra)
    as_json = run_cli("plan", str(path), "--api-url", "local", "--json", *extra)
    assert text.code == 0 and as_json.code == 0, text.err + as_json.err
    json.loads(as_json.out)
    return [text.out, text.err, as_json.out, as_json.err, out.read_text(), md.read_text()]


def applied(run_cli, path: Path, yaml: str, *extra: str) -> str:  # type: ignore[no-untyped-def]
    (path / "stack.yaml").write_text(yaml, encoding="utf-8")
    result = run_cli("apply", str(path), "--api-url", "local", "--auto-approve", "--allow-delete", *extra)
    assert result.code == 0, result.err
    return result.out + result.err


@pytest.fixture
def canary_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANARY", ENV_CANARY)
    monkeypatch.setenv("CI", "1")


@pytest.mark.usefixtures("canary_env")
def test_a_secret_description_written_as_a_literal_never_shows_its_old_value(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    assert_clean(applied(run_cli, tmp_path, FROM_ENV))
    (tmp_path / "stack.yaml").write_text(LITERAL, encoding="utf-8")
    outputs = every_output(run_cli, tmp_path)
    assert "description  (secret changed)" in outputs[0]
    assert "Changed outside" not in outputs[0]  # the stamp's hash left the secret field out, and knows it
    assert_clean(*outputs)
    assert_clean(applied(run_cli, tmp_path, LITERAL))
    again = run_cli("plan", str(tmp_path), "--api-url", "local", "--detailed-exitcode")
    assert again.code == 0, again.out  # converged; now a literal, the field is no longer secret
    (tmp_path / "stack.yaml").write_text(LITERAL.replace("written out now", "edited"), encoding="utf-8")
    assert "description  \"written out now\" → edited" in run_cli("plan", str(tmp_path), "--api-url", "local").out


@pytest.mark.usefixtures("canary_env")
def test_removing_a_resource_applied_from_a_secret_shows_no_secret(tmp_path: Path, run_cli,  # type: ignore[no-untyped-def]
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    applied(run_cli, tmp_path, FROM_ENV)
    (tmp_path / "stack.yaml").write_text(GONE, encoding="utf-8")
    monkeypatch.delenv("CANARY")  # the canary now lives only in the live object
    outputs = every_output(run_cli, tmp_path)
    assert "- deployment.github" in outputs[0]
    delete = next(c for c in json.loads(outputs[2])["changes"] if c["action"] == "delete")
    assert delete["before"]["description"] == "(secret)"
    assert_clean(*outputs)
    assert_clean(applied(run_cli, tmp_path, GONE, "--allow-empty"))


@pytest.mark.parametrize("source", ["variables", "var-file"])
@pytest.mark.usefixtures("canary_env")
def test_a_variable_fed_by_env_stays_hidden_in_names_metadata_tools_and_descriptions(
    tmp_path: Path, run_cli, source: str  # type: ignore[no-untyped-def]
) -> None:
    yaml, extra = VIA_VARIABLES, ()
    if source == "var-file":
        # Not part of the configuration (a hidden directory), but below the plan file's directory,
        # where a saved plan may name it.
        var_file = tmp_path / ".vars" / "v.yaml"
        var_file.parent.mkdir()
        var_file.write_text('v: "${env:CANARY}"\n', encoding="utf-8")
        yaml, extra = VIA_VAR_FILE, ("--var-file", str(var_file))
    (tmp_path / "stack.yaml").write_text(yaml, encoding="utf-8")
    creating = every_output(run_cli, tmp_path, *extra)
    assert "tools        (secret)" in creating[0] and "plain" in creating[0]
    assert_clean(*creating, applied(run_cli, tmp_path, yaml, *extra))
    provider_tools = yaml.replace('tools: [{tool_regex: "^get_|${var.v}"}]}',
                                  'tools: [{tool_regex: "^get_|${var.v}"}, list_issues]}')
    (tmp_path / "stack.yaml").write_text(provider_tools, encoding="utf-8")  # a sub-resource update
    updating = every_output(run_cli, tmp_path, *extra)
    assert "providers[github].tools  (secret changed)" in updating[0]
    assert_clean(*updating)
    literal = VIA_VAR_FILE.replace("${var.v}", "lit")  # every use now a literal
    (tmp_path / "stack.yaml").write_text(literal, encoding="utf-8")
    assert_clean(*every_output(run_cli, tmp_path))
    (tmp_path / "stack.yaml").write_text(GONE, encoding="utf-8")
    removing = every_output(run_cli, tmp_path)
    assert "Plan: 0 to create, 0 to update, 0 to replace, 5 to delete." in removing[0]
    assert_clean(*removing)


def test_the_stamp_records_sensitive_field_names_never_values() -> None:
    from metorial_apply.core.fingerprint import stamp_for
    from metorial_apply.core.model import Address, Resource, Stamp

    resource = Resource(address=Address(kind="deployment", name="gh"), sensitive=frozenset({"name", "description"}),
                        spec={"name": ENV_CANARY, "description": ENV_CANARY, "provider": "github"})
    metadata = stamp_for(resource, "s", None).to_metadata()
    assert metadata["metorial-apply/sensitive"] == "description,name"
    assert_clean(json.dumps(metadata))
    assert Stamp.split(metadata)[1].sensitive == ("description", "name")  # type: ignore[union-attr]
    plain = stamp_for(resource.model_copy(update={"sensitive": frozenset()}), "s", None).to_metadata()
    assert plain["metorial-apply/sensitive"] == ""  # recorded as none, told apart from an old stamp
    old = {k: v for k, v in plain.items() if k != "metorial-apply/sensitive"}
    assert Stamp.split(old)[1].sensitive is None  # type: ignore[union-attr]
