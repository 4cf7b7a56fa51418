"""The egress half of the secret scrubber (issue 21 item 3): whatever a code path forgets to
filter, stdout and stderr (click, rich, whatever writes to sys.stdout/sys.stderr), the journal
and output files are scrubbed of the run's secrets as they are written. Each test plants the
canary where no other guard sees it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import click
import pytest
from rich.console import Console

from metorial_apply.apply.journal import Journal
from metorial_apply.cli import planrun as plan_command
from metorial_apply.cli.plan import write_atomic
from metorial_apply.core.scrub import SECRETS
from tests.apply.conftest import run_cli

CANARY = "canary-egress-31d7f0a2b9"
CONFIG = """stack: egress
deployments:
  gh: {provider: github}
configs:
  gh-prod: {deployment: gh, value: {base_url: "${env:EGRESS_URL}"}}
"""


@pytest.fixture
def registered() -> object:
    SECRETS.add(CANARY)
    yield
    SECRETS.clear()


def test_a_code_path_that_prints_a_secret_is_scrubbed_on_every_stream(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "stack.yaml").write_text(CONFIG)

    def careless(*args: object, **kwargs: object) -> None:
        click.echo(f"stdout {CANARY}")
        click.echo(f"stderr {CANARY} {json.dumps(CANARY)}", err=True)
        Console(stderr=True).print(f"rich {CANARY}")
        raise click.ClickException(f"failed with {CANARY}")

    monkeypatch.setattr(plan_command, "fresh_plan", careless)
    result = run_cli(["-vv", "plan", str(tmp_path), "--api-url", "local"], env={"EGRESS_URL": CANARY})
    assert result.code == 1
    for marker in ("stdout ***", 'stderr *** "***"', "rich ***", "Error: failed with ***"):
        assert marker in result.out + result.err, marker
    assert CANARY not in result.out + result.err


def test_the_secret_set_is_the_commands_own(tmp_path: Path) -> None:
    """Each command starts afresh: a secret of an earlier command in the same process is not
    one of this command's (and the streams are put back when it ends)."""
    SECRETS.add(CANARY)
    (tmp_path / "stack.yaml").write_text(CONFIG.replace("${env:EGRESS_URL}", "https://example.com"))
    stdout = __import__("sys").stdout
    result = run_cli(["validate", str(tmp_path)])
    assert result.code == 0 and SECRETS.scrub(CANARY) == CANARY
    assert __import__("sys").stdout is stdout


def test_the_journal_is_scrubbed_as_it_is_written(registered: object) -> None:
    stream = io.StringIO()
    journal = Journal(stream, stack="egress")
    journal.summary(f"failed: {CANARY} / {json.dumps(CANARY)}")
    assert CANARY not in stream.getvalue() and "failed: *** / " in stream.getvalue()


def test_output_files_are_scrubbed_as_they_are_written(registered: object, tmp_path: Path) -> None:
    write_atomic(tmp_path / "plan.md", f"# plan\n{CANARY}\n")
    assert (tmp_path / "plan.md").read_text() == "# plan\n***\n"


@pytest.mark.parametrize("flags", [[], ["--strict"]])
def test_validate_warns_about_secrets_too_short_to_scrub_everywhere(tmp_path: Path, flags: list[str]) -> None:
    (tmp_path / "stack.yaml").write_text(CONFIG + "auth_configs:\n  tok: {deployment: gh, method: token, "
                                         'value: {token: "${env:SHORT_TOKEN}"}}\n')
    result = run_cli(["validate", str(tmp_path), *flags], env={"EGRESS_URL": CANARY, "SHORT_TOKEN": "ab12"})
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if line.startswith("Warning:")]
    assert warnings == [f"Warning: {tmp_path / 'stack.yaml'}:7: auth_config.tok: a secret value in `value` is "
                        "shorter than 8 characters: output is scrubbed of it only where a server quotes it, "
                        "as a whole word"]
    assert "ab12" not in result.out + result.err
