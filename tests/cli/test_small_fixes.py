"""Issue 12 item 6, the small ones: each through the real CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.apply.conftest import run_cli
from tests.emulator_server import EmulatorProcess

STACK = ("stack: small\ndeployments:\n  gh: {provider: githb, description: x}\n"
         "configs:\n  c: {deployment: gh, value: {}}\n")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "stack.yaml").write_text(STACK.replace("githb", "github"))
    return tmp_path


def test_a_publishable_key_given_with_api_key_is_blamed_on_api_key(config: Path) -> None:
    result = run_cli(["plan", str(config), "--api-url", "local", "--api-key", "metorial_pk_abc"])
    assert result.code == 1 and "the key given with --api-key is a publishable key" in result.err
    assert "METORIAL_API_KEY" not in result.err
    from_env = run_cli(["plan", str(config), "--api-url", "local"], env={"METORIAL_API_KEY": "metorial_pk_abc"})
    assert from_env.code == 1 and "the key in METORIAL_API_KEY is a publishable key" in from_env.err


@pytest.mark.parametrize("url", ["ftp://example.com", "not a url", "https://user:pw@example.com"])
def test_a_bad_api_url_is_a_usage_error(config: Path, url: str) -> None:
    result = run_cli(["plan", str(config), "--api-url", url, "--api-key", "metorial_sk_x"])
    assert result.code == 64, result.err
    assert "--api-url" in result.err and "pw" not in result.err


def test_a_provider_typo_is_reported_once(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(STACK)
    result = run_cli(["validate", str(tmp_path), "--online", "--api-url", "local"])
    assert result.code == 1
    assert len(re.findall(r'unknown provider "githb"', result.err)) == 1 and "1 error;" in result.err


def test_destroy_with_stack_and_no_path_reads_no_yaml(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("stack: [unclosed\n")  # read, it would fail the run
    result = run_cli(["destroy", "--stack", "nothing-here", "--api-url", "local", "--auto-approve"], cwd=tmp_path)
    assert result.code == 0, result.err
    assert "Nothing to destroy: stack 'nothing-here' has no resources." in result.out


def test_emulator_serve_options_have_help() -> None:
    result = run_cli(["emulator", "serve", "--help"])
    assert re.search(r"--port INTEGER\s+TCP port", result.out)
    assert re.search(r"--latency-ms FLOAT\s+Added delay", result.out)


@pytest.mark.parametrize("given", ["env", "flag"])
def test_a_refused_key_is_blamed_on_where_it_came_from(config: Path, emulator: EmulatorProcess, given: str) -> None:
    """Issue 23 item 5: the 401 hint named the HTTP header; the user set METORIAL_API_KEY."""
    key = "metorial_sk_" + "0" * 32
    env = {"METORIAL_API_URL": emulator.url} | ({"METORIAL_API_KEY": key} if given == "env" else {})
    result = run_cli(["plan", str(config), *(["--api-key", key] if given == "flag" else [])], env=env)
    origin = "METORIAL_API_KEY" if given == "env" else "--api-key"
    assert result.code == 1 and "401 unauthorized" in result.err, result.err
    assert f"  hint: the API refused the key in {origin}: use a current secret key" in result.err
    assert "Authorization" not in result.err


PLACED = """\
stack: placed
deployments:
  gh: {provider: github}
  typo:
    provider: githb
auth_configs:
  tok:
    deployment: gh
    method: tokn
    value: {token: abcdefgh12}
  empty:
    deployment: gh
    method: token
    value: {token: "${env:EMPTY_TOKEN}"}
"""


@pytest.mark.parametrize("command", [["validate", "--online"], ["plan"]])
def test_catalog_problems_point_at_their_field_and_name_an_empty_variable(tmp_path: Path, command: list[str]) -> None:
    """Issue 23 item 5: provider, method and value errors pointed at the resource's line, and an
    empty (not unset) variable behind a refused value went unnamed."""
    path = tmp_path / "stack.yaml"
    path.write_text(PLACED)
    result = run_cli([command[0], str(tmp_path), *command[1:], "--api-url", "local"], env={"EMPTY_TOKEN": ""})
    assert result.code == 1
    found = re.findall(r"^Error: \S+?:(\d+:\d+): ([\w.-]+): ", result.err, re.MULTILINE)
    assert {path: at for at, path in found} == {"deployments.typo.provider": "5:15", "auth_configs.tok.method": "9:13",
                                               "auth_configs.empty.value.token": "14:20"}, result.err
    assert "  hint: the environment variable EMPTY_TOKEN is set but empty: set it to the value, or unset it" \
        in result.err
