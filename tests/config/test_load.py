"""load_config: what a valid configuration becomes (desired State), and the language's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from metorial_apply.config.load import load_config
from metorial_apply.core.errors import ConfigError
from metorial_apply.core.model import Address, SecretValue

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"
MULTI = ROOT / "examples" / "multi-env"


def write(tmp: Path, text: str, name: str = "stack.yaml") -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [f"{d.line}:{d.column} {d.path}: {d.message}" for d in exc.value.diagnostics]


def test_quickstart_becomes_canonical_desired_state() -> None:
    state = load_config(QUICKSTART, env={})
    assert state.stack == "quickstart"
    assert [str(r.address) for r in state] == [
        "deployment.github", "config.github-prod", "auth_config.github-token", "session_template.support-bot"]
    config = state.get(Address(kind="config", name="github-prod"))
    assert config is not None and config.spec["provider"] == "github"  # filled from the deployment
    assert config.secret == SecretValue({"base_url": "https://api.github.com"})
    auth = state.get(Address(kind="auth_config", name="github-token"))
    assert auth is not None and auth.secret.reveal() == {"token": "ghp_placeholder_not_a_real_token"}  # type: ignore[union-attr]
    assert auth.source == f"{QUICKSTART}/stack.yaml:24"


def test_env_overrides_the_default() -> None:
    state = load_config(QUICKSTART, env={"GITHUB_TOKEN": "ghp_from_env"})
    auth = state.get(Address(kind="auth_config", name="github-token"))
    assert auth is not None and auth.secret.reveal() == {"token": "ghp_from_env"}  # type: ignore[union-attr]


def test_multi_env_variables_come_from_the_var_file() -> None:
    staging = load_config(MULTI / "base", var_files=[MULTI / "envs" / "staging.yaml"], env={})
    production = load_config(MULTI / "base", var_files=[MULTI / "envs" / "production.yaml"], env={})
    assert (staging.stack, production.stack) == ("support-staging", "support-production")
    slack = production.get(Address(kind="config", name="slack"))
    assert slack is not None and slack.secret.reveal()["workspace"] == "acme"  # type: ignore[union-attr]


def test_variable_precedence_cli_over_files_over_variables(tmp_path: Path) -> None:
    write(tmp_path, "a: from-file-1\nb: from-file-1\n", "vars/one.yaml")
    write(tmp_path, "b: from-file-2\n", "vars/two.yaml")
    config = write(tmp_path, """stack: s
variables: {a: from-config, b: from-config, c: from-config, d: from-config}
deployments:
  github: {provider: github, description: "${var.a} ${var.b} ${var.c} ${var.d}"}
""", "config/stack.yaml")
    state = load_config(config, variables={"d": "from-cli"}, env={},
                        var_files=[tmp_path / "vars/one.yaml", tmp_path / "vars/two.yaml"])
    assert state.resources[0].spec["description"] == "from-file-1 from-file-2 from-config from-cli"


def test_whole_scalar_interpolation_stays_a_string_and_escape_is_literal(tmp_path: Path) -> None:
    config = write(tmp_path, """stack: s
variables: {port: 8080}
deployments:
  github:
    provider: github
    metadata: {port: "${var.port}", literal: "$${var.port}", mixed: "a-${var.port}-$${x}"}
""")
    metadata = load_config(config, env={}).resources[0].spec["metadata"]
    assert metadata == {"port": "8080", "literal": "${var.port}", "mixed": "a-8080-${x}"}


def test_values_from_env_and_file_are_marked_sensitive(tmp_path: Path) -> None:
    write(tmp_path, "from-a-file\n\n", "secrets/desc.txt")
    config = write(tmp_path, """stack: s
deployments:
  github: {provider: github, description: "${file:secrets/desc.txt}", metadata: {who: "${env:WHO}"}, name: plain}
""")
    resource = load_config(config, env={"WHO": "someone"}).resources[0]
    assert resource.spec["description"] == "from-a-file"  # trailing newlines stripped
    assert resource.sensitive == frozenset({"description", "metadata"})


def test_absolute_file_paths_are_allowed_relative_ones_must_stay_inside(tmp_path: Path) -> None:
    secret = write(tmp_path, "outside\n", "elsewhere/token.txt")
    config = write(tmp_path, f"""stack: s
deployments:
  github: {{provider: github, description: "${{file:{secret}}}"}}
""", "config/stack.yaml")
    assert load_config(config, env={}).resources[0].spec["description"] == "outside"
    config.write_text(
        "stack: s\ndeployments:\n  github: {provider: github, description: '${file:../elsewhere/token.txt}'}\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_config(config, env={})
    assert "points outside the configuration directory" in problems(exc)[0]


def test_directory_files_are_merged_recursively_and_hidden_ones_skipped(tmp_path: Path) -> None:
    write(tmp_path, "stack: s\n", "a.yaml")
    write(tmp_path, "deployments: {github: {provider: github}}\n", "nested/b.yml")
    write(tmp_path, "configs: {gh: {deployment: github, value: {}}}\n", "nested/deeper/c.yaml")
    write(tmp_path, "this is: [not even valid", ".hidden/broken.yaml")
    write(tmp_path, "not yaml", "notes.txt")
    state = load_config(tmp_path, env={})
    assert [str(r.address) for r in state] == ["deployment.github", "config.gh"]


def test_every_problem_is_reported_in_one_pass_sorted_by_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, """stack: s
deployments:
  github: {provider: github, descripton: x}
configs:
  a: {deployment: githb, value: {}}
  b: {deployment: github, value: {}, tools: [1]}
""", "b.yaml")
    write(tmp_path, "session_templates:\n  t: {providers: [{deployment: nope}]}\n", "a.yaml")
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path, env={})
    assert [(Path(d.file).name, d.line) for d in exc.value.diagnostics] == [  # type: ignore[arg-type]
        ("a.yaml", 2), ("b.yaml", 3), ("b.yaml", 5), ("b.yaml", 6)]


def test_cli_stack_overrides_the_file(tmp_path: Path) -> None:
    config = write(tmp_path, "stack: s\ndeployments: {github: {provider: github}}\n")
    assert load_config(config, stack="other", env={}).stack == "other"
    with pytest.raises(ConfigError):
        load_config(config, stack="not valid!", env={})


def test_plain_keys_stay_strings_yaml_1_1_booleans_do_not_rename_resources(tmp_path: Path) -> None:
    config = write(tmp_path, "stack: s\ndeployments:\n  on: {provider: github}\n  'no': {provider: slack}\n")
    assert sorted(r.address.name for r in load_config(config, env={})) == ["no", "on"]


def test_merge_keys_share_fields(tmp_path: Path) -> None:
    config = write(tmp_path, """stack: s
x-defaults: &defaults {provider: github, metadata: {team: support}}
deployments:
  a: {<<: *defaults, description: one}
  b: {<<: *defaults, provider: slack}
""")
    with pytest.raises(ConfigError) as exc:  # x-defaults is not a known top-level key
        load_config(config, env={})
    assert "unknown top-level key \"x-defaults\"" in problems(exc)[0]
    config.write_text(config.read_text().replace("x-defaults: &defaults", "variables: {}\ndeployments:\n  a: &defaults")
                      .replace("deployments:\n  a: {<<", "  c: {<<"), encoding="utf-8")
    by_name = {r.address.name: r.spec for r in load_config(config, env={})}
    assert by_name["c"]["provider"] == "github" and by_name["b"]["provider"] == "slack"
    assert by_name["b"]["metadata"] == {"team": "support"}


def test_provider_is_filled_through_a_vault(tmp_path: Path) -> None:
    config = write(tmp_path, """stack: s
deployments: {slack: {provider: slack}}
config_vaults: {shared: {deployment: slack, value: {workspace: acme}}}
configs: {from-vault: {vault: shared}}
""")
    state = load_config(config, env={})
    assert state.get(Address(kind="config", name="from-vault")).spec["provider"] == "slack"  # type: ignore[union-attr]


def test_a_provider_id_is_not_compared_offline(tmp_path: Path) -> None:
    config = write(tmp_path, """stack: s
deployments: {gh: {provider: pro_abc123}}
configs: {c: {deployment: gh, provider: github, value: {}}}
""")
    assert len(load_config(config, env={})) == 2


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / "nope", env={})
    assert exc.value.diagnostics[0].message == "no such file or directory"
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path, env={})
    assert "no *.yaml" in exc.value.diagnostics[0].message
