"""The renderers through the real CLI against the embedded emulator: a secret rotation and a
sensitive description show up as secret changes in text, Markdown and JSON, never as values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from metorial_apply.cli import cli
from metorial_apply.planning.saved import load_saved_plan

TOKEN_1 = "canary-token-one-7d1e5f"
TOKEN_2 = "canary-token-two-9a3b2c"
DESC = "canary-description-4f6e8d"

STACK = """\
stack: render-it
deployments:
  github:
    provider: github
    description: ${env:GH_DESC}
    tools: [create_issue]
configs:
  github-prod:
    deployment: github
    value: {base_url: https://api.github.com}
auth_configs:
  github-token:
    deployment: github
    method: token
    value: {token: "${env:GH_TOKEN}"}
"""


def run(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


@pytest.fixture
def applied(tmp_path: Path) -> Path:
    (tmp_path / "stack.yaml").write_text(STACK)
    code, output = run(["apply", str(tmp_path), "--api-url", "local", "--auto-approve"],
                       {"GH_TOKEN": TOKEN_1, "GH_DESC": DESC})
    assert code == 0, output
    return tmp_path


def test_plan_outputs_show_secret_changes_without_values(applied: Path) -> None:
    stack = applied / "stack.yaml"
    stack.write_text(STACK.replace("[create_issue]", "[create_issue, list_issues]"))
    env = {"GH_TOKEN": TOKEN_2, "GH_DESC": DESC + "-edited"}
    md, saved = applied / "plan.md", applied / "plan.json"
    code, text = run(["plan", str(applied), "--api-url", "local", "--markdown", str(md), "--out", str(saved),
                      "--detailed-exitcode"], env)
    assert code == 3, text
    assert "-/+ auth_config.github-token" in text and "value        (secret changed)" in text
    assert "description  (secret changed)" in text  # sensitive: from ${env:}
    assert "tools        [create_issue] → [create_issue, list_issues]" in text
    code, as_json = run(["plan", str(applied), "--api-url", "local", "--json"], env)
    assert code == 0, as_json
    doc = json.loads(as_json)
    assert doc["exit_code"] == 3 and doc["summary"]["replace"] == 1
    assert load_saved_plan(as_json).stack == "render-it"
    markdown = md.read_text()
    assert markdown.startswith("### metorial-apply · `render-it` · ")
    assert "> **Destructive:** `-/+ auth_config.github-token`" in markdown
    for output in (text, as_json, markdown, saved.read_text()):
        for canary in (TOKEN_1, TOKEN_2, DESC):
            assert canary not in output
