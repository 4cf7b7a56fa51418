"""`plan --no-secrets` (issue 12 item 3): plans everything else with no secret value at hand,
marks secret comparisons "not compared", says so in its header, refuses --out, and a JSON
document of it cannot be applied. Canary: the secret never appears. Real CLI, real-HTTP emulator."""

from __future__ import annotations

import json
from pathlib import Path

from tests.apply.conftest import run_cli
from tests.apply.test_saved_forged import env
from tests.emulator_server import EmulatorProcess

CANARY = "https://canary-nosecrets-4e2a.example.com"
STACK = """\
stack: blind
deployments:
  gh: {{provider: github, description: {desc}}}
configs:
  conf: {{deployment: gh, value: {{base_url: "${{env:BLIND_URL}}"}}}}
"""


def test_plan_without_secrets_compares_the_rest(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK.format(desc="one"))
    applied = run_cli(["apply", str(path), "--auto-approve"], env=env(emulator) | {"BLIND_URL": CANARY})
    assert applied.code == 0, applied.err
    path.write_text(STACK.format(desc="two"))
    result = run_cli(["plan", str(path), "--no-secrets", "--detailed-exitcode"], env=env(emulator))
    assert result.code == 2, result.out + result.err
    assert "Secrets not compared (--no-secrets)" in result.out.splitlines()[1]
    assert "~ deployment.gh" in result.out and "1 to update" in result.out  # only the description
    assert "Note: config.conf: secret value: not compared (--no-secrets)" in result.out
    assert "Apply with" not in result.out
    assert "BLIND_URL is not set" in result.err
    markdown = run_cli(["plan", str(path), "--no-secrets", "--markdown", "-"], env=env(emulator))
    assert "**Secrets not compared**" in markdown.out
    doc = run_cli(["plan", str(path), "--no-secrets", "--json"], env=env(emulator) | {"BLIND_URL": CANARY})
    assert json.loads(doc.out)["no_secrets"] is True
    (tmp_path / "doc.json").write_text(doc.out)
    secrets = env(emulator) | {"BLIND_URL": CANARY}
    refused = run_cli(["apply", str(tmp_path / "doc.json"), "--auto-approve"], env=secrets)
    assert refused.code == 1 and "no usable desired digest" in refused.err
    for text in (result.out, result.err, markdown.out, doc.out):
        assert CANARY not in text


def test_no_secrets_refuses_out(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK.format(desc="one"))
    result = run_cli(["plan", str(path), "--no-secrets", "--out", str(tmp_path / "p.json")], env=env(emulator))
    assert result.code == 64 and "--no-secrets plans cannot be applied" in result.err
    assert not (tmp_path / "p.json").exists()
