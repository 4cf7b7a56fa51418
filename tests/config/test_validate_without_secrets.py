"""Offline `validate` never needs secret values (issue 12 item 3): an unset ${env:} or a missing
${file:} is a warning naming the reference (exit 0), an error with --strict (exit 1); `plan`
keeps treating it as an error. No secret value is printed either way (canary)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apply.conftest import run_cli

CANARY = "https://canary-validate-77d1.example.com"
STACK = """\
stack: nosecrets
variables:
  region: "${env:NS_REGION}"
deployments:
  gh: {provider: github, description: "in ${var.region}"}
configs:
  one: {deployment: gh, value: {base_url: "${env:NS_URL}"}}
  two: {deployment: gh, value: {base_url: "${file:secrets/url.txt}"}}
  three: {deployment: gh, value: {base_url: "${env:NS_SET}"}}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "stack.yaml").write_text(STACK)
    return tmp_path


def test_offline_validate_warns_and_passes_without_secrets(config: Path) -> None:
    result = run_cli(["validate", str(config)], env={"NS_SET": CANARY})
    assert result.code == 0, result.err
    assert "Valid: 4 resources" in result.out
    for what in ("variables.region: environment variable NS_REGION is not set",
                 "configs.one.value.base_url: environment variable NS_URL is not set",
                 "configs.two.value.base_url: ${file:secrets/url.txt}: no such file"):
        assert f"Warning: {config / 'stack.yaml'}" in result.err and what in result.err
    assert CANARY not in result.out + result.err


def test_strict_makes_them_errors(config: Path) -> None:
    result = run_cli(["validate", str(config), "--strict"], env={"NS_SET": CANARY})
    assert result.code == 1
    assert "NS_REGION is not set" in result.err and "NS_URL is not set" in result.err and CANARY not in result.err


def test_a_mistake_is_still_an_error_offline(config: Path) -> None:
    (config / "stack.yaml").write_text(STACK.replace("${env:NS_URL}", "${env:1BAD}"))
    result = run_cli(["validate", str(config)])
    assert result.code == 1 and "not an environment variable name" in result.err


def test_plan_still_needs_every_secret(config: Path) -> None:
    result = run_cli(["plan", str(config), "--api-url", "local"], env={"NS_SET": CANARY})
    assert result.code == 1 and "NS_URL is not set" in result.err
