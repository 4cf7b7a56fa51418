"""`--api-url local` keeps secret values in clear in its SQLite file: its state directory is
0700, ignored by git, its files 0600. Journals are 0600 too. Checked through the CLI with a
permissive umask, so nothing here depends on the caller's."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apply.conftest import run_cli

CONFIG = """stack: private
deployments:
  gh: {provider: github}
configs:
  gh-prod: {deployment: gh, value: {base_url: "https://example.test"}}
"""


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("permissive_umask")
def test_local_state_is_private_and_ignored_and_the_journal_is_0600(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(CONFIG)
    journal = tmp_path / "apply.jsonl"
    result = run_cli(["apply", str(tmp_path), "--api-url", "local", "--auto-approve", "--journal", str(journal)])
    assert result.code == 0, result.out + result.err
    state = tmp_path / ".metorial-apply"
    assert mode(state) == 0o700
    assert (state / ".gitignore").read_text() == "*\n"
    files = [p for p in state.iterdir() if p.is_file()]
    assert state / "emulator.sqlite3" in files
    assert {p.name: mode(p) for p in files} == dict.fromkeys((p.name for p in files), 0o600)
    assert mode(journal) == 0o600


@pytest.mark.usefixtures("permissive_umask")
def test_an_existing_state_directory_and_journal_are_tightened(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(CONFIG)
    state = tmp_path / ".metorial-apply"
    state.mkdir(mode=0o755)
    (state / "emulator.sqlite3").touch(mode=0o644)
    journal = tmp_path / "apply.jsonl"
    journal.touch(mode=0o644)
    result = run_cli(["apply", str(tmp_path), "--api-url", "local", "--auto-approve", "--journal", str(journal)])
    assert result.code == 0, result.out + result.err
    assert mode(state) == 0o700 and mode(state / "emulator.sqlite3") == 0o600 and mode(journal) == 0o600


def test_git_sees_nothing_of_the_state_directory(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(CONFIG)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert run_cli(["plan", str(tmp_path), "--api-url", "local"]).code == 0
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path,
                            capture_output=True, text=True, check=True).stdout
    assert status.split() == ["??", "stack.yaml"]


def test_a_state_directory_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_text(CONFIG)
    (tmp_path / ".metorial-apply").write_text("a file where the directory should be")
    result = run_cli(["plan", str(tmp_path), "--api-url", "local"])
    assert result.code == 1
    state = tmp_path / ".metorial-apply"
    assert result.err == f"Error: cannot prepare the local state directory {state}: File exists\n"
