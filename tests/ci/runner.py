"""Runs the shell steps of the CI recipes in examples/ci/ the way GitHub Actions and GitLab CI
would: job conditions, env/variables with `${{ … }}` expressions, step outputs, bash with
`-eo pipefail`. `uses:` steps are skipped, and so is the install step (there is no PyPI here):
PATH holds a `metorial-apply` that runs this checkout, and fake `gh`/`glab` (forge.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from metorial_apply.emulator.process import child_env

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "examples" / "ci"
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")
STEP_TIMEOUT_S = 120


@dataclass
class JobRun:
    """What one job did: whether it ran, each step's exit code, the outputs it set."""

    ran: bool
    codes: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    logs: str = ""

    @property
    def ok(self) -> bool:
        return self.ran and all(code == 0 for code in self.codes.values())


def fake_bin(directory: Path) -> Path:
    """A PATH directory with `metorial-apply` (this checkout), `gh` and `glab` (the fake forge)."""
    directory.mkdir(parents=True, exist_ok=True)
    forge = Path(__file__).with_name("forge.py")
    scripts = {"metorial-apply": f'exec "{sys.executable}" -m metorial_apply "$@"',
               "gh": f'exec "{sys.executable}" "{forge}" gh "$@"',
               "glab": f'exec "{sys.executable}" "{forge}" glab "$@"'}
    for name, body in scripts.items():
        path = directory / name
        path.write_text(f"#!/usr/bin/env bash\n{body}\n")
        path.chmod(0o755)
    return directory


def lookup(path: str, context: dict[str, Any]) -> Any:
    value: Any = context
    for part in path.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    return value


def evaluate(expr: str, context: dict[str, Any]) -> Any:
    """The expressions the recipes use: a context path, or `path == path`."""
    expr = EXPRESSION.sub(lambda m: m.group(1), expr).strip()
    if "==" in expr:
        left, right = (side.strip() for side in expr.split("=="))
        return str(lookup(left, context)) == str(lookup(right, context))
    return lookup(expr, context)


def render(value: Any, context: dict[str, Any]) -> str:
    return EXPRESSION.sub(lambda m: str(lookup(m.group(1), context)), str(value))


def shell(script: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    return done.returncode, done.stdout + done.stderr


def is_install(script: str) -> bool:
    return script.lstrip().startswith("pip install")


def run_github_job(workflow: str, job: str, context: dict[str, Any], cwd: Path, base_env: dict[str, str]) -> JobRun:
    """One job of examples/ci/github/<workflow>, in `cwd`, with `context` for `${{ … }}`."""
    doc = yaml.safe_load((RECIPES / "github" / workflow).read_text())
    spec = doc["jobs"][job]
    if "if" in spec and not evaluate(spec["if"], context):
        return JobRun(ran=False)
    run = JobRun(ran=True)
    context = {**context, "steps": run.outputs}
    for index, step in enumerate(spec["steps"]):
        if "run" not in step or is_install(step["run"]):
            continue
        name = step.get("id") or step.get("name") or str(index)
        outputs = cwd / f".github-output-{index}"
        outputs.write_text("")
        declared = doc.get("env", {}) | spec.get("env", {}) | step.get("env", {})
        rendered = {k: render(v, context) for k, v in declared.items()}
        env = child_env(base_env | rendered) | {"GITHUB_OUTPUT": str(outputs)}
        code, log = shell(step["run"], env, cwd)
        run.codes[name], run.logs = code, run.logs + log
        lines = outputs.read_text().splitlines()
        run.outputs[name] = {"outputs": dict(line.split("=", 1) for line in lines if "=" in line)}
        if code:
            break
    return run


def flatten(lines: list[Any]) -> list[str]:
    """GitLab flattens nested script arrays (YAML anchors of lists); anything else but a string
    (e.g. an unquoted `a: b` that YAML reads as a mapping) is an error there, so it is here."""
    out = [s for line in lines for s in (flatten(line) if isinstance(line, list) else [line])]
    assert all(isinstance(s, str) for s in out), f"script lines must be strings: {out}"
    return out


def gitlab_rule_matches(rule: dict[str, Any], variables: dict[str, str]) -> bool:
    """`$A == "x" && $B == $C`: the forms the recipe's rules use."""
    def term(text: str) -> str:
        text = text.strip()
        return variables.get(text[1:], "") if text.startswith("$") else text.strip('"')
    return all(term(a) == term(b) for a, b in (clause.split("==") for clause in rule["if"].split("&&")))


def run_gitlab_job(job: str, variables: dict[str, str], cwd: Path, base_env: dict[str, str]) -> JobRun:
    """One job of examples/ci/gitlab/.gitlab-ci.yml; `variables` are GitLab's predefined ones."""
    doc = yaml.safe_load((RECIPES / "gitlab" / ".gitlab-ci.yml").read_text())
    spec = doc[job]
    if not any(gitlab_rule_matches(rule, variables) for rule in spec.get("rules", [{"if": "1 == 1"}])):
        return JobRun(ran=False)
    script = "\n".join(line for line in flatten(spec["script"]) if not is_install(line))
    env = child_env(base_env | doc.get("variables", {}) | spec.get("variables", {}) | variables)
    code, log = shell(script, env, cwd)
    return JobRun(ran=True, codes={job: code}, logs=log)
