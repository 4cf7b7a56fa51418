"""Every example validates through the CLI, exactly as the README tells users to run it."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENVS = sorted(p.name for p in (ROOT / "examples" / "multi-env" / "envs").glob("*.yaml"))


def test_every_example_directory_is_covered() -> None:
    # examples/ci holds pipeline recipes, not configurations: tests/ci/test_recipes.py runs them.
    # examples/org is a workspace: test_org_validates_every_stack below and tests/workspace run it.
    assert sorted(p.name for p in (ROOT / "examples").iterdir() if p.is_dir()) == ["ci", "multi-env", "org",
                                                                                   "quickstart"]
    assert ENVS == ["production.yaml", "staging.yaml"]


def test_org_validates_every_stack(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT / "examples" / "org")
    result = run_cli("validate", "--all", "--strict")
    assert result.code == 0, result.err
    assert result.out.count("Valid:") == 4 and result.err == ""


def test_quickstart_validates(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)  # works without any env set
    result = run_cli("validate", "examples/quickstart")
    assert result.code == 0, result.err
    assert result.out == "Valid: 4 resources in stack quickstart (examples/quickstart/stack.yaml).\n"
    assert result.err == ""


@pytest.mark.parametrize("env", ENVS)
def test_multi_env_validates_per_environment(env: str, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    result = run_cli("validate", "examples/multi-env/base", "--var-file", f"examples/multi-env/envs/{env}")
    assert result.code == 0, result.err
    stack = "support-" + env.removesuffix(".yaml")
    assert result.out == f"Valid: 11 resources in stack {stack} (5 files in examples/multi-env/base).\n"


def test_multi_env_without_a_var_file_is_the_dev_stack(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    result = run_cli("validate", "examples/multi-env/base", "--var", "env=qa")
    assert result.code == 0 and "stack support-qa" in result.out


def test_bad_var_flag_is_a_usage_error(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    result = run_cli("validate", "examples/quickstart", "--var", "novalue")
    assert result.code == 64 and "NAME=VALUE" in result.err


def test_examples_apply_to_the_emulator_and_then_plan_no_changes(
    tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import shutil

    for name in ("GITHUB_TOKEN", "SLACK_BOT_TOKEN", "LINEAR_API_KEY", "METORIAL_API_KEY", "METORIAL_API_URL"):
        monkeypatch.delenv(name, raising=False)
    examples = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", examples, ignore=shutil.ignore_patterns(".metorial-apply"))
    runs = [[str(examples / "quickstart")]] + [
        [str(examples / "multi-env" / "base"), "--var-file", str(examples / "multi-env" / "envs" / env)] for env in ENVS
    ]
    for args in runs:
        applied = run_cli("apply", *args, "--api-url", "local", "--auto-approve")
        assert applied.code == 0, applied.out + applied.err
        planned = run_cli("plan", *args, "--api-url", "local", "--detailed-exitcode")
        assert planned.code == 0 and "No changes" in planned.out, planned.out + planned.err
