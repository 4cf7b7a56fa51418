"""Runs the CI recipes in examples/ci/ the way GitHub Actions and GitLab CI would: jobs in
`needs:` order (a failed or skipped need skips the job), `if:` on jobs and steps, matrices
(`strategy.matrix`, fromJSON included), job outputs, env with `${{ … }}` expressions
(tests/ci/expressions.py), step outputs through GITHUB_OUTPUT, bash with `-eo pipefail`, and
`uses:` of this repository's composite action (action.yml, by `./` or `<owner>/metorial-apply@<sha>`)
run step by step with its inputs. Other `uses:` (checkout, setup-python, artifacts) are skipped:
the checkout is the job's directory and this interpreter is the Python. Install lines (pip,
apt-get, the tool's git clone) are skipped too: there is no network here, and PATH holds a
`metorial-apply` that runs this checkout and a fake `gh` (forge.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from metorial_apply.emulator.process import child_env
from tests.ci.expressions import evaluate, render

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "examples" / "ci"
OUR_ACTION = re.compile(r"(\./?|[\w.-]+/metorial-apply@[0-9a-f]{40})")
# Lines that install or fetch over the network: skipped (the fakes and this checkout stand in).
INSTALL = re.compile(r"\s*(python3? -m pip install|pip install|apt-get |git clone |git fetch "
                     r"|git -C \"?\$METORIAL_APPLY_SRC)")
VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
STEP_TIMEOUT_S = 120


@dataclass
class JobRun:
    """What one job (one matrix leg) did: whether it ran, each step's exit code, the outputs."""

    ran: bool
    codes: dict[str, int] = field(default_factory=dict)
    steps: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    matrix: dict[str, Any] = field(default_factory=dict)
    logs: str = ""

    @property
    def ok(self) -> bool:
        return self.ran and all(code == 0 for code in self.codes.values())


def fake_bin(directory: Path) -> Path:
    """A PATH directory with `metorial-apply` (this checkout), `python`, and the fake `gh`."""
    directory.mkdir(parents=True, exist_ok=True)
    forge = Path(__file__).with_name("forge.py")
    scripts = {"metorial-apply": f'exec "{sys.executable}" -m metorial_apply "$@"',
               "python": f'exec "{sys.executable}" "$@"', "python3": f'exec "{sys.executable}" "$@"',
               "gh": f'exec "{sys.executable}" "{forge}" gh "$@"'}
    for name, body in scripts.items():
        path = directory / name
        path.write_text(f"#!/usr/bin/env bash\n{body}\n")
        path.chmod(0o755)
    return directory


def shell(script: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    return done.returncode, done.stdout + done.stderr


def is_install(script: str) -> bool:
    lines = [line for line in script.splitlines() if line.strip() and not line.strip().startswith("#")]
    return bool(lines) and all(INSTALL.match(line) for line in lines)


@dataclass
class Job:
    """One job's run in progress: where, with which base environment and context."""

    cwd: Path
    base_env: dict[str, str]
    context: dict[str, Any]
    run: JobRun


def rendered_env(layers: list[dict[str, Any]], context: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for layer in layers:
        env |= {k: str(render(v, context | {"env": env})) for k, v in (layer or {}).items()}
    return env


def run_steps(job: Job, steps: list[dict[str, Any]], context: dict[str, Any], env_layers: list[dict[str, Any]],
              outputs: dict[str, dict[str, dict[str, str]]], extra_env: dict[str, str]) -> bool:
    """Run steps in order; False once one fails (later steps run only if their `if:` says so)."""
    failed = False
    for index, step in enumerate(steps):
        ctx = context | {"steps": outputs, "_failed": failed}
        if not evaluate(step.get("if", "success()"), ctx):
            continue
        name = step.get("id") or step.get("name") or f"step-{len(job.run.codes)}-{index}"
        env = rendered_env(env_layers + [step.get("env", {})], ctx)
        if "uses" in step:
            if OUR_ACTION.fullmatch(step["uses"]):
                code, step_outputs = run_action(job, step, ctx, env)
                job.run.codes[name], outputs[name] = code, {"outputs": step_outputs}
                failed = failed or code != 0
            continue
        if is_install(step["run"]):
            continue
        code, step_outputs = run_script(job, step, env | extra_env, ctx)
        job.run.codes[name], outputs[name] = code, {"outputs": step_outputs}
        failed = failed or code != 0
    return not failed


def run_script(job: Job, step: dict[str, Any], env: dict[str, str],
               context: dict[str, Any]) -> tuple[int, dict[str, str]]:
    out = job.cwd.parent / f".github-output-{len(job.run.codes)}"
    out.write_text("")
    cwd = job.cwd / str(render(step.get("working-directory", "."), context))
    code, log = shell(step["run"], child_env(job.base_env | env) | {"GITHUB_OUTPUT": str(out)}, cwd)
    job.run.logs += log
    lines = out.read_text().splitlines()
    return code, dict(line.split("=", 1) for line in lines if "=" in line)


def run_action(job: Job, step: dict[str, Any], context: dict[str, Any],
               env: dict[str, str]) -> tuple[int, dict[str, str]]:
    """This repository's composite action: inputs from `with:` or the defaults, its steps with
    GITHUB_ACTION_PATH at the repository root, its outputs from its steps'."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    given = step.get("with", {}) or {}
    unknown = set(given) - set(action["inputs"])
    assert not unknown, f"inputs the action does not declare: {unknown}"
    inputs = {name: str(render(given.get(name, spec.get("default", "")), context))
              for name, spec in action["inputs"].items()}
    ctx = context | {"inputs": inputs}
    inner: dict[str, dict[str, dict[str, str]]] = {}
    ok = run_steps(job, action["runs"]["steps"], ctx, [env], inner, {"GITHUB_ACTION_PATH": str(ROOT)})
    outputs = {name: str(render(spec["value"], ctx | {"steps": inner})) for name, spec in action["outputs"].items()}
    return (0 if ok else 1), outputs


def run_job(spec: dict[str, Any], workflow_env: dict[str, Any], context: dict[str, Any], cwd: Path,
            base_env: dict[str, str]) -> JobRun:
    if not evaluate(spec.get("if", "success()"), context):
        return JobRun(ran=False)
    job = Job(cwd=cwd, base_env=base_env, context=context, run=JobRun(ran=True, matrix=context.get("matrix", {})))
    run_steps(job, spec["steps"], context, [workflow_env, spec.get("env", {})], job.run.steps, {})
    ctx = context | {"steps": job.run.steps}
    job.run.outputs = {k: str(render(v, ctx)) for k, v in (spec.get("outputs") or {}).items()}
    return job.run


def matrix_legs(spec: dict[str, Any], context: dict[str, Any]) -> list[dict[str, Any]]:
    """The legs of `strategy.matrix`: its `include` entries (the form the recipes use)."""
    matrix = render((spec.get("strategy") or {}).get("matrix"), context)
    if matrix is None:
        return [{}]
    assert set(matrix) == {"include"}, f"only include-matrices are supported: {matrix}"
    return list(matrix["include"])


def run_github_workflow(workflow: str, context: dict[str, Any], cwd: Path, base_env: dict[str, str],
                        jobs: list[str] | None = None) -> dict[str, list[JobRun]]:
    """Every job (or those named) of examples/ci/github/<workflow>, in `needs:` order; a job's
    matrix legs run one after another. A job whose need failed or was skipped is skipped."""
    doc = yaml.safe_load((RECIPES / "github" / workflow).read_text())
    results: dict[str, list[JobRun]] = {}
    for name, spec in doc["jobs"].items():  # the recipes list jobs after their needs
        if jobs is not None and name not in jobs:
            continue
        needs = spec.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        if not all(n in results and all(r.ok for r in results[n]) for n in needs):
            results[name] = [JobRun(ran=False)]
            continue
        ctx = context | {"needs": {n: {"outputs": results[n][-1].outputs, "result": "success"} for n in needs}}
        results[name] = [run_job(spec, doc.get("env", {}), ctx | {"matrix": leg}, cwd, base_env)
                         for leg in matrix_legs(spec, ctx)]
    return results


def flatten(lines: list[Any]) -> list[str]:
    """GitLab flattens nested script arrays (YAML anchors of lists); anything else but a string
    (e.g. an unquoted `a: b` that YAML reads as a mapping) is an error there, so it is here."""
    out = [s for line in lines for s in (flatten(line) if isinstance(line, list) else [line])]
    assert all(isinstance(s, str) for s in out), f"script lines must be strings: {out}"
    return out


def gitlab_rule_matches(rule: dict[str, Any], variables: dict[str, str]) -> bool:
    """`$A == "x" && $B != $C`: the forms the recipe's rules use."""
    def term(text: str) -> str:
        text = text.strip()
        return variables.get(text[1:], "") if text.startswith("$") else text.strip('"')

    def clause(text: str) -> bool:
        op = "!=" if "!=" in text else "=="
        left, right = text.split(op)
        return (term(left) == term(right)) == (op == "==")
    return all(clause(c) for c in rule["if"].split("&&"))


def run_gitlab_job(job: str, variables: dict[str, str], cwd: Path, base_env: dict[str, str]) -> JobRun:
    """One job of examples/ci/gitlab/.gitlab-ci.yml; `variables` are GitLab's predefined ones
    and the project's CI/CD variables. The job's `variables:` may not override them (GitLab
    gives the project's variables precedence too)."""
    doc = yaml.safe_load((RECIPES / "gitlab" / ".gitlab-ci.yml").read_text())
    spec = doc[job]
    if not any(gitlab_rule_matches(rule, variables) for rule in spec.get("rules", [{"if": "1 == 1"}])):
        return JobRun(ran=False)
    lines = flatten(doc.get("default", {}).get("before_script", []) + spec["script"])
    script = "\n".join(line for line in lines if not is_install(line))
    declared = doc.get("variables", {}) | spec.get("variables", {})
    # GitLab expands $VARIABLES inside variables' values (predefined ones and the project's).
    expanded = {k: VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), str(v))
                for k, v in declared.items()}
    env = child_env(base_env | expanded | variables)
    code, log = shell(script, env, cwd)
    return JobRun(ran=True, codes={job: code}, logs=log)
