"""fetch_live and `plan` against the real emulator in-process (`--api-url local`), driven
through the real CLI entry point. Secrets are canaries grepped for in every output."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from metorial_apply.api.catalog import fetch_catalog
from metorial_apply.api.client import open_client
from metorial_apply.api.live import fetch_live, read_live
from metorial_apply.apply.run import apply_plan
from metorial_apply.cli import main
from metorial_apply.config.load import load_config
from metorial_apply.config.resolve import resolve_names
from metorial_apply.core.model import Stamp
from metorial_apply.planning.plan import Action, build_plan
from metorial_apply.planning.saved import load_saved_plan

CANARY = "canary-Zq9Xw7-plan-secret"
ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
stack: prod
deployments:
  github:
    provider: github
    description: GitHub tools
    tools: [create_issue, list_issues]
configs:
  github-prod:
    deployment: github
    value: {base_url: "https://api.github.com"}
auth_configs:
  github-token:
    deployment: github
    method: token
    value: {token: "${env:PLAN_TEST_TOKEN}"}
session_templates:
  support:
    description: Support bot
    providers:
      - {deployment: github, config: github-prod, auth_config: github-token}
"""


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLAN_TEST_TOKEN", CANARY)
    monkeypatch.delenv("CI", raising=False)
    (tmp_path / "stack.yaml").write_text(CONFIG)
    return tmp_path


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def stamp(stack: str, address: str) -> dict[str, str]:
    return Stamp(stack=stack, address=address, spec_hash="sha256:x").to_metadata()


async def seed(state_dir: Path) -> dict[str, str]:
    """Deployments: one unstamped, one of another stack, one of ours not in the YAML (twice,
    a duplicate), one stamped with a config address."""
    async with open_client("local", None, state_dir=state_dir) as client:
        made = {}
        for key, meta in [
            ("plain", {"team": "x"}),
            ("other", stamp("staging", "deployment.github")),
            ("orphan", stamp("prod", "deployment.orphan")),
            ("orphan2", stamp("prod", "deployment.orphan")),
            ("odd", stamp("prod", "config.github-prod")),
        ]:
            obj = await client.create("/provider-deployments", {"provider_id": "github", "name": key, "metadata": meta},
                                      kind="deployment", name=key, stamp={})
            made[key] = obj["id"]
        return made


@pytest.mark.anyio
async def test_fetch_live_keeps_only_our_stack_and_handles_duplicates(tmp_path: Path) -> None:
    made = await seed(tmp_path)
    async with open_client("local", None, state_dir=tmp_path) as client:
        catalog = await fetch_catalog(client)
        before = client.stats.calls
        read = await read_live(client, "prod", catalog)
        live_calls = client.stats.calls - before
        state = await fetch_live(client, "prod", catalog)
    assert live_calls == 6  # one list per kind, nothing per resource
    assert [str(r.address) for r in read.state] == ["deployment.orphan", f"deployment.orphan~{made['orphan2']}"]
    assert read.state.resources[0].id == made["orphan"]  # the oldest keeps the address
    assert read.state.resources[0].spec["provider"] == "github"
    assert all(r.fingerprint and r.fingerprint.startswith("sha256:") for r in read.state)
    assert len(read.ignored) == 1 and made["odd"] in read.ignored[0]
    assert state == read.state
    plan = build_plan(state.model_copy(update={"resources": ()}), state)
    assert [(c.action, c.reason) for c in plan.changes] == [
        (Action.DELETE, "not in config"), (Action.DELETE, "duplicate of deployment.orphan")]


def test_empty_stack_plans_all_creates_and_exit_code_2(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["plan", str(stack), "--api-url", "local", "--detailed-exitcode"], capsys)
    assert code == 2, err
    assert "4 to create" in out
    for address in ("deployment.github", "config.github-prod", "auth_config.github-token", "session_template.support"):
        assert address in out


def test_foreign_resources_never_appear_and_orphans_are_deleted(
    stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import anyio
    made = anyio.run(seed, stack / ".metorial-apply")
    code, out, err = run_cli(["plan", str(stack), "--api-url", "local", "--detailed-exitcode", "--json"], capsys)
    assert code == 3, err
    doc = json.loads(out)
    rows = {c["address"]: c for c in doc["changes"]}
    assert rows["deployment.orphan"]["action"] == "delete"
    assert rows[f"deployment.orphan~{made['orphan2']}"]["reason"] == "duplicate of deployment.orphan"
    ids = {c["id"] for c in doc["changes"]}
    assert made["plain"] not in ids and made["other"] not in ids and made["odd"] not in ids
    assert "Warning:" in err and made["odd"] in err


@pytest.mark.anyio
async def test_apply_then_plan_again_is_empty_and_drift_is_reported(stack: Path) -> None:
    state_dir = stack / ".metorial-apply"
    async with open_client("local", None, state_dir=state_dir) as client:
        catalog = await fetch_catalog(client)
        desired = resolve_names(load_config(stack), catalog)
        plan = build_plan(desired, await fetch_live(client, "prod", catalog))
        report = await apply_plan(plan, client, catalog=catalog)
        assert all(r.outcome.value == "done" for r in report.results), report
        live = await fetch_live(client, "prod", catalog)
        assert build_plan(desired, live).actionable() == ()
        dep = live.get(next(r.address for r in live if r.address.kind == "deployment"))
        assert dep is not None and dep.id is not None
        await client.update(
            "/provider-deployments", dep.id, {"description": "edited by hand"}, kind="deployment", name="github"
        )
        drifted = build_plan(desired, await fetch_live(client, "prod", catalog))
    (change,) = drifted.actionable()
    assert change.drift and change.reason == "changed outside metorial-apply"


def test_outputs_never_contain_the_secret(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for extra in ([], ["--json"], ["--stats", "--out", str(stack / "plan.json"), "--markdown", str(stack / "plan.md")]):
        code, out, err = run_cli(["-v", "plan", str(stack), "--api-url", "local", *extra], capsys)
        assert code == 0, err
        outputs += [out, err]
    outputs += [(stack / "plan.json").read_text(), (stack / "plan.md").read_text()]
    assert load_saved_plan(outputs[-2]).stack == "prod"
    assert "(secret)" in outputs[0]
    for text in outputs:
        assert CANARY not in text


def test_error_output_never_contains_the_secret(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = CONFIG.replace(
        'value: {base_url: "https://api.github.com"}', 'value: {base_url: 12, extra: "${env:PLAN_TEST_TOKEN}"}'
    )
    (stack / "stack.yaml").write_text(bad)
    code, out, err = run_cli(["plan", str(stack), "--api-url", "local"], capsys)
    assert code == 1 and "Error:" in err and "Traceback" not in err and "extra" in err
    assert CANARY not in out + err


def test_debug_logging_never_contains_the_secret(stack: Path) -> None:
    env = {"PLAN_TEST_TOKEN": CANARY, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "metorial_apply", "-vv", "plan", str(stack), "--api-url", "local", "--stats"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "DEBUG" in done.stderr  # logging really was on
    assert CANARY not in done.stdout + done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "nodot"], "not an address"), (["--target", "widget.x"], "unknown kind"),
])
def test_bad_target_is_a_usage_error(
    stack: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run_cli(["plan", str(stack), "--api-url", "local", *args], capsys)
    assert code == 64 and message in err


def test_target_limits_the_plan(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        ["plan", str(stack), "--api-url", "local", "--json", "--target", "config.github-prod"], capsys
    )
    assert code == 0, err
    assert [c["address"] for c in json.loads(out)["changes"]] == ["deployment.github", "config.github-prod"]


CASCADE = """\
stack: prod
deployments:
  main: {provider: PROVIDER, description: main}
configs:
  main-cfg: {deployment: main, value: {}}
auth_configs:
  main-auth: {deployment: main, method: METHOD}
session_templates:
  bot:
    providers:
      - {deployment: main, config: main-cfg, auth_config: main-auth}
"""
AUTH = {"github": "token, value: {token: t}", "linear": "api_key, value: {api_key: k}"}


@pytest.mark.anyio
async def test_replacing_a_deployment_cascades_applies_and_converges(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    async with open_client("local", None, state_dir=tmp_path / ".metorial-apply") as client:
        catalog = await fetch_catalog(client)
        for provider in ("github", "linear"):
            path.write_text(CASCADE.replace("PROVIDER", provider).replace("METHOD", AUTH[provider]))
            desired = resolve_names(load_config(path), catalog)
            plan = build_plan(desired, await fetch_live(client, "prod", catalog))
            report = await apply_plan(plan, client, catalog=catalog)
            assert all(r.outcome.value == "done" for r in report.results), report
            if provider == "linear":
                assert [(c.action.value, str(c.address)) for c in plan.actionable()] == [
                    ("replace", "deployment.main"), ("replace", "config.main-cfg"),
                    ("replace", "auth_config.main-auth"), ("update", "session_template.bot")]
            after = await fetch_live(client, "prod", catalog)
            assert build_plan(desired, after).actionable() == ()
        assert after.get(next(r.address for r in after if r.address.kind == "deployment")).spec["provider"] == "linear"  # type: ignore[union-attr]


def test_same_inputs_give_byte_identical_plan_files(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for run in ("a", "b"):
        args = ["plan", str(stack), "--api-url", "local", "--out", str(stack / f"{run}.json"),
                "--markdown", str(stack / f"{run}.md")]
        code, _, err = run_cli(args, capsys)
        assert code == 0, err
        outputs.append(((stack / f"{run}.json").read_bytes(), (stack / f"{run}.md").read_bytes()))
    assert outputs[0] == outputs[1]
    assert CANARY.encode() not in outputs[0][0] + outputs[0][1]
    # the digest still follows the secret: another value gives another plan file
    (stack / "stack.yaml").write_text(CONFIG.replace("${env:PLAN_TEST_TOKEN}", "another-token"))
    code, _, err = run_cli(["plan", str(stack), "--api-url", "local", "--out", str(stack / "c.json")], capsys)
    assert code == 0, err
    digests = [json.loads(p.read_text())["desired_digest"] for p in (stack / "a.json", stack / "c.json")]
    assert digests[0] != digests[1]


def test_stats_show_the_live_reads_longest_chain(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """450 session templates not ours: from both ends, 3 pages in a row (5 pages in all) where
    one walk from the start takes 5 in a row."""
    async def seed() -> None:
        async with open_client("local", None, state_dir=stack / ".metorial-apply") as client:
            base = len(await client.list_all("/session-templates"))
            for i in range(450 - base):
                await client.create("/session-templates", {"name": f"other-{i}"}, kind="session_template",
                                    name=f"other-{i}", stamp={})
    asyncio.run(seed())
    code, _, err = run_cli(["plan", str(stack), "--api-url", "local", "--stats"], capsys)
    assert code == 0, err
    live = next(line for line in err.splitlines() if line.startswith("Live read:"))
    assert "longest chain 3 pages" in live and live.startswith("Live read: 10 list calls for 6 kinds"), live
