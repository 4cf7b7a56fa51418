"""Plans say what apply will refuse (issue 12 item 2): `plan` takes apply's gate flags and shows
a "Blocked" section (text, Markdown) and `blocked` (JSON) decided by the same function apply
calls, so a plan and an apply with the same flags never disagree. Real CLI, real-HTTP emulator."""

from __future__ import annotations

import json
from pathlib import Path

from tests.apply.conftest import run_cli
from tests.apply.test_saved_forged import env, ok
from tests.emulator_server import EmulatorProcess


def stack(path: Path, names: list[str], protect: str = "") -> None:
    lines = [f"  {n}: {{provider: github, description: {n}{', protect: true' if n == protect else ''}}}"
             for n in names]
    path.write_text("stack: gates\ndeployments:\n" + "\n".join(lines) + "\n")


def outputs(path: Path, server: EmulatorProcess, *flags: str) -> tuple[str, str, dict]:
    text = run_cli(["plan", str(path), *flags], env=env(server))
    markdown = run_cli(["plan", str(path), "--markdown", "-", *flags], env=env(server))
    as_json = run_cli(["plan", str(path), "--json", *flags], env=env(server))
    assert text.code == markdown.code == as_json.code == 0, text.err + markdown.err + as_json.err
    return text.out, markdown.out, json.loads(as_json.out)


def test_removing_a_protected_resource_is_blocked_in_every_format(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    stack(path, ["a", "keep"], protect="keep")
    ok(["apply", str(path), "--auto-approve"], emulator)
    stack(path, ["a"])
    text, markdown, doc = outputs(path, emulator, "--allow-delete")
    summary = text.splitlines().index("Plan: 0 to create, 0 to update, 0 to replace, 1 to delete.")
    assert text.splitlines()[summary + 2] == "Blocked: apply --allow-delete would refuse this plan:"
    assert "protected resource: deployment.keep" in text.splitlines()[summary + 3]
    assert "> **Blocked:** apply would refuse this plan:" in markdown and "deployment.keep" in markdown
    assert [(b["rule"], b["addresses"]) for b in doc["blocked"]] == [("protected", ["deployment.keep"])]
    refused = run_cli(["apply", str(path), "--auto-approve", "--allow-delete"], env=env(emulator))
    assert refused.code == 1 and doc["blocked"][0]["message"] in refused.err  # the same words as apply


def test_deleting_4_of_10_is_blocked_without_force_and_not_with_it(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    names = [f"d{i}" for i in range(10)]
    stack(path, names)
    ok(["apply", str(path), "--auto-approve"], emulator)
    stack(path, names[4:])
    text, markdown, doc = outputs(path, emulator)
    assert [b["rule"] for b in doc["blocked"]] == ["mass", "ci-delete"]
    assert "4 of 10 resources (40%)" in text and "Unblock: check the plan; pass --force" in text
    assert "pass --force if it is intended" in markdown
    detailed = run_cli(["plan", str(path), "--detailed-exitcode"], env=env(emulator))
    assert detailed.code == 3  # blocked is data, not an exit code
    text, markdown, doc = outputs(path, emulator, "--force", "--allow-delete")
    assert doc["blocked"] == [] and "Blocked" not in text and "Blocked" not in markdown
    assert "Apply with: metorial-apply apply --allow-delete --force" in text
    assert "4 done, 0 failed" in ok(["apply", str(path), "--auto-approve", "--allow-delete", "--force"], emulator)
