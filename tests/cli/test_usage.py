"""Command-line ergonomics: saved plans given to plan/validate, `--markdown -`, `--no-color`
after the subcommand, whole `--help` summaries, shell completion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from metorial_apply.cli import SUMMARIES, cli, load_command
from metorial_apply.cli.output import Output
from tests.apply.conftest import copy_example
from tests.cli.runner import run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    return copy_example("quickstart", tmp_path)


@pytest.mark.parametrize("command", ["plan", "validate"])
def test_a_saved_plan_in_place_of_a_configuration_is_named_as_such(
        command: str, stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = stack.parent / "plan.json"
    assert run(capsys, "plan", str(stack), "--api-url", "local", "--out", str(saved))[0] == 0
    code, _, err = run(capsys, command, str(saved), *(["--api-url", "local"] if command == "plan" else []))
    assert code == 1
    assert err.count("Error:") == 1 and "this is a saved plan, not a configuration" in err
    assert f"metorial-apply apply {saved}" in err and "unknown top-level" not in err


def test_a_json_configuration_that_is_no_plan_is_still_read_as_yaml(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "stack.yaml"
    config.write_text('{"stack": "json-form", "deployments": {"gh": {"provider": "github"}}}\n')
    code, out, err = run(capsys, "validate", str(config))
    assert code == 0, err
    assert "stack json-form" in out


def test_markdown_dash_prints_the_comment_and_writes_no_file(stack: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(stack.parent)
    code, out, _ = run(capsys, "plan", str(stack), "--api-url", "local", "--markdown", "-")
    assert code == 0
    assert out.startswith("### metorial-apply · `quickstart` · 4 create")
    assert not (stack.parent / "-").exists()
    assert run(capsys, "plan", str(stack), "--api-url", "local", "--markdown", "-", "--json")[0] == 64


def test_no_color_works_after_the_subcommand(stack: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """On a colour terminal, `plan --no-color` prints no escape sequences, as `--no-color plan` does."""
    real = Output.create

    def terminal(**kw: object) -> Output:
        made = real(**kw)  # type: ignore[arg-type]
        return Output(verbose=made.verbose, quiet=made.quiet, color=not kw["no_color"], debug=made.debug)

    monkeypatch.setattr(Output, "create", staticmethod(terminal))
    coloured = run(capsys, "plan", str(stack), "--api-url", "local")[1]
    assert "\x1b[" in coloured  # the check can see colour
    for argv in (["--no-color", "plan", str(stack)], ["plan", str(stack), "--no-color"]):
        code, out, _ = run(capsys, *argv, "--api-url", "local")
        assert code == 0 and "\x1b[" not in out, argv


def test_help_summaries_are_whole(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    names = cli.list_commands(click.Context(cli))
    assert set(SUMMARIES) == set(names)
    for name in names:  # each module's command answers to the name it is listed under
        assert load_command(name).name == name and load_command(name).short_help == SUMMARIES[name]
        assert sum("--no-color" in p.opts for p in load_command(name).params) <= 1, name  # added once
    for name, summary in SUMMARIES.items():
        assert f"{name}" in out and summary in " ".join(out.split()), name
    assert "..." not in out.split("Commands:")[1]


def test_shell_completion_script_is_printed() -> None:
    env = dict(os.environ, _METORIAL_APPLY_COMPLETE="bash_source")
    done = subprocess.run([sys.executable, "-m", "metorial_apply"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0
    assert "_metorial_apply_completion" in done.stdout and "complete " in done.stdout


@pytest.mark.parametrize(("words", "expected"), [("metorial-apply va", "plain,validate"),
                                                  ("metorial-apply plan --no-c", "plain,--no-color")])
def test_shell_completion_completes_lazily_loaded_commands_and_their_options(words: str, expected: str) -> None:
    """Command names come from the lazy group; a command's options (the appended --no-color
    too) from its module, loaded to complete them."""
    env = dict(os.environ, _METORIAL_APPLY_COMPLETE="bash_complete", COMP_WORDS=words,
               COMP_CWORD=str(len(words.split()) - 1))
    done = subprocess.run([sys.executable, "-m", "metorial_apply"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0 and expected in done.stdout.splitlines(), done.stdout + done.stderr


def test_replace_of_an_api_key_points_at_rotate_and_a_target_may_name_one() -> None:
    from metorial_apply.cli.plan import parse_targets

    with pytest.raises(click.BadParameter, match=r"--rotate api_key.sync, not --replace"):
        parse_targets(("api_key.sync",), "--replace")
    assert [str(a) for a in parse_targets(("api_key.sync",))] == ["api_key.sync"]
