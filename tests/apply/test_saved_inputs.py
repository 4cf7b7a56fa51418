"""Self-contained saved plans (issue 12 item 1): `plan --var-file … --out plan.json`, then
`cd /` and `apply /abs/plan.json` applies; a changed var file, a missing var file, a missing env
var and another stack each get their own message naming the thing. Real CLI, real-HTTP emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.apply.conftest import run_cli
from tests.apply.test_saved_forged import env, resign_sha256
from tests.emulator_server import EmulatorProcess

CONFIG = """\
stack: ${var.stack}
deployments:
  gh: {provider: github, description: "${var.desc}"}
configs:
  gh-conf:
    deployment: gh
    value: {base_url: "${env:PIPE_TOKEN}"}
"""
TOKEN = "https://canary-pipe-token-93c1.example.com"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "main.yaml").write_text(CONFIG)
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "staging.yaml").write_text("stack: staging\ndesc: staging deployment\n")
    return tmp_path


def make_plan(repo: Path, server: EmulatorProcess, *extra: str) -> Path:
    result = run_cli(["plan", "stacks", "--var-file", "envs/staging.yaml", "--out", "plan.json", *extra],
                     env=env(server) | {"PIPE_TOKEN": TOKEN}, cwd=repo)
    assert result.code == 0, result.out + result.err
    assert "Apply with: metorial-apply apply plan.json" in result.out
    assert TOKEN not in (repo / "plan.json").read_text()
    return repo / "plan.json"


def apply(plan: Path, server: EmulatorProcess, *extra: str, token: str | None = TOKEN):
    secrets = {"PIPE_TOKEN": token} if token else {}
    return run_cli(["apply", str(plan), "--auto-approve", *extra], env=env(server) | secrets, cwd=Path("/"))


def test_apply_from_another_directory_applies_the_saved_plan(repo: Path, emulator: EmulatorProcess) -> None:
    plan = make_plan(repo, emulator)
    inputs = json.loads(plan.read_text())["inputs"]
    assert inputs["config"] == "stacks" and inputs["var_files"][0]["path"] == "envs/staging.yaml"
    result = apply(plan, emulator)
    assert result.code == 0, result.out + result.err
    assert "2 done, 0 failed" in result.out
    deployments = [o for o in emulator.objects() if o.get("description") == "staging deployment"]
    assert len(deployments) == 1


def test_a_changed_var_file_is_named(repo: Path, emulator: EmulatorProcess) -> None:
    plan = make_plan(repo, emulator)
    (repo / "envs" / "staging.yaml").write_text("stack: staging\ndesc: production deployment\n")
    result = apply(plan, emulator)
    assert result.code == 1
    assert "the var file envs/staging.yaml changed since the plan was made" in result.err


def test_a_missing_var_file_is_named(repo: Path, emulator: EmulatorProcess) -> None:
    plan = make_plan(repo, emulator)
    (repo / "envs" / "staging.yaml").unlink()
    result = apply(plan, emulator)
    assert result.code == 1
    assert "the saved plan's var file envs/staging.yaml is missing" in result.err


def test_a_missing_env_var_is_named(repo: Path, emulator: EmulatorProcess) -> None:
    plan = make_plan(repo, emulator)
    result = apply(plan, emulator, token=None)
    assert result.code == 1
    assert "PIPE_TOKEN" in result.err and "not set" in result.err


def test_another_stack_is_named(repo: Path, emulator: EmulatorProcess) -> None:
    plan = make_plan(repo, emulator)
    result = apply(plan, emulator, "--stack", "production")
    assert result.code == 1
    assert "the saved plan is for stack 'staging'" in result.err and "'production'" in result.err


def test_a_plan_made_with_stack_and_var_says_so_in_apply_with(repo: Path, emulator: EmulatorProcess) -> None:
    result = run_cli(["plan", "stacks", "--var-file", "envs/staging.yaml", "--var", "desc=other", "--stack", "qa",
                      "--out", "plan.json"], env=env(emulator) | {"PIPE_TOKEN": TOKEN}, cwd=repo)
    assert "Apply with: metorial-apply apply --stack qa --var desc=… plan.json" in result.out
    plan = repo / "plan.json"
    assert "other" not in json.dumps(json.loads(plan.read_text())["inputs"])  # only a salted digest of it
    assert "pass --var desc=… again" in apply(plan, emulator, "--stack", "qa").err
    assert "--var desc differs" in apply(plan, emulator, "--stack", "qa", "--var", "desc=else").err
    assert "pass --stack qa" in apply(plan, emulator, "--var", "desc=other").err
    result = apply(plan, emulator, "--stack", "qa", "--var", "desc=other")
    assert result.code == 0, result.out + result.err


def test_a_relative_path_climbing_out_of_the_plan_directory_is_refused(repo: Path, emulator: EmulatorProcess) -> None:
    plan = make_plan(repo, emulator)
    data = json.loads(plan.read_text())
    data["inputs"]["config"] = "../elsewhere"
    plan.write_text(resign_sha256(data))
    result = apply(plan, emulator)
    assert result.code == 1 and "outside its own directory" in result.err


def test_show_renders_a_saved_plan_offline(repo: Path, emulator: EmulatorProcess) -> None:
    plan = make_plan(repo, emulator)
    for fmt, expect in (("text", "+ deployment.gh"), ("markdown", "deployment.gh"), ("json", '"inputs"')):
        result = run_cli(["show", str(plan), "--format", fmt], env={"METORIAL_API_URL": "http://127.0.0.1:9"})
        assert result.code == 0, result.err
        assert expect in result.out and TOKEN not in result.out


@pytest.mark.parametrize("swap", ["fifo", "dev_zero"])
def test_a_var_file_swapped_for_a_fifo_or_dev_zero_is_refused_at_once(repo: Path, emulator: EmulatorProcess,
                                                                      swap: str) -> None:
    """A FIFO hung apply and /dev/zero filled memory (issue 21 item 9): only a regular file, capped, is read."""
    import os
    import time

    plan = make_plan(repo, emulator)
    var_file = repo / "envs" / "staging.yaml"
    var_file.unlink()
    if swap == "fifo":
        os.mkfifo(var_file)
    else:
        var_file.symlink_to("/dev/zero")
    started = time.monotonic()
    result = apply(plan, emulator)
    assert result.code == 1 and "Traceback" not in result.err and time.monotonic() - started < 20
    assert "envs/staging.yaml" in result.err, result.err


@pytest.mark.parametrize("form", ["fifo", "deep"])
def test_a_plan_file_that_is_a_fifo_or_nests_without_end_is_refused(tmp_path: Path, form: str) -> None:
    import os

    plan = tmp_path / "plan.json"
    if form == "fifo":
        os.mkfifo(plan)
    else:
        plan.write_text("[" * 200_000 + "]" * 200_000)
    result = run_cli(["apply", str(plan), "--auto-approve", "--api-url", "local"])
    assert result.code != 0 and "Traceback" not in result.err and "RecursionError" not in result.err, result.err
    assert ("not a regular file" in result.err) if form == "fifo" else ("nests too deeply" in result.err)


@pytest.mark.parametrize("where", ["/etc", "envs/../../elsewhere", "C:\\\\Windows"])
def test_an_absolute_or_climbing_input_path_is_refused_with_no_write(repo: Path, emulator: EmulatorProcess,
                                                                     where: str) -> None:
    """The plan file is untrusted: without a key anyone can re-checksum it, so its paths may only
    name files below its own directory (issue 21 item 8)."""
    plan = make_plan(repo, emulator)
    data = json.loads(plan.read_text())
    data["inputs"]["config"] = where
    plan.write_text(resign_sha256(data))
    before = emulator.stats()["calls"]
    result = apply(plan, emulator)
    assert result.code == 1 and "outside its own directory" in result.err, result.err
    assert emulator.stats()["calls"] == before  # refused before any call


def test_plan_out_outside_the_configurations_directory_is_refused(repo: Path, emulator: EmulatorProcess,
                                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("plans") / "plan.json"
    result = run_cli(["plan", "stacks", "--var-file", "envs/staging.yaml", "--out", str(elsewhere)],
                     env=env(emulator) | {"PIPE_TOKEN": TOKEN}, cwd=repo)
    assert result.code == 1 and "is not inside" in result.err and not elsewhere.exists(), result.err


def test_apply_with_repeats_every_input_of_a_fresh_plan(repo: Path, emulator: EmulatorProcess) -> None:
    """Without --out, "Apply with:" must name what the plan was made from (issue 23 item 4): the
    var-file layout's stack came from the var file, so a bare `apply stacks` plans the default."""
    args = ["plan", "stacks", "--var-file", "envs/staging.yaml", "--var", "desc=other", "--stack", "qa",
            "--target", "deployment.gh"]
    result = run_cli(args, env=env(emulator) | {"PIPE_TOKEN": TOKEN}, cwd=repo)
    line = next(x for x in result.out.splitlines() if x.startswith("Apply with: "))
    assert line.startswith("Apply with: metorial-apply apply --stack qa --var-file envs/staging.yaml "
                           "--var desc=… --target deployment.gh stacks   (exit code"), line
