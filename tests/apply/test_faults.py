"""Under injected faults (5xx before the write, 5xx after it committed, committed writes whose
response is dropped, 429 bursts, jittered latency), one apply of 200 resources converges:
nothing duplicated, nothing missing, and the next plan is empty. A create answered 500 after
it committed is resolved like a lost one, by this stack's stamp only."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.apply.conftest import run_cli
from tests.emulator_server import SECRET_KEY, EmulatorProcess

GROUPS = 50  # × (deployment, config, auth config, session template) = 200 resources


def big_stack(groups: int = GROUPS, stack: str = "faults") -> str:
    lines = [f"stack: {stack}", "deployments:"]
    lines += [f"  d{i}: {{provider: github, tools: [create_issue]}}" for i in range(groups)]
    lines += ["configs:"]
    lines += [f"  c{i}: {{deployment: d{i}, value: {{base_url: 'https://api.github.com'}}}}" for i in range(groups)]
    lines += ["auth_configs:"]
    lines += [f"  a{i}: {{deployment: d{i}, method: token, value: {{token: 'tok-{i}'}}}}" for i in range(groups)]
    lines += ["session_templates:"]
    lines += [f"  t{i}: {{providers: [{{deployment: d{i}, config: c{i}, auth_config: a{i}}}]}}" for i in range(groups)]
    return "\n".join(lines) + "\n"


def expected_addresses(groups: int = GROUPS) -> set[str]:
    return {f"{kind}.{p}{i}" for i in range(groups)
            for kind, p in (("deployment", "d"), ("config", "c"), ("auth_config", "a"), ("session_template", "t"))}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_200_resources_converge_in_one_run_under_faults(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(big_stack())
    with EmulatorProcess.start(
        tmp_path / "db.sqlite3",
        "--seed",
        str(seed),
        "--error-rate",
        "0.10",
        "--drop-rate",
        "0.05",
        "--error-after-commit-rate",
        "0.05",
        "--burst-429-rate",
        "0.02",
        "--burst-429-length",
        "3",
        "--latency-ms",
        "2",
        "--jitter-ms",
        "8",
    ) as server:
        env = {"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY}
        result = run_cli(["apply", str(path), "--auto-approve", "--parallelism", "16"], env=env)
        assert result.code == 0, result.out[-3000:] + result.err
        assert "200 done, 0 failed, 0 skipped" in result.out
        fired = server.stats()["faults"]
        assert fired["error"] > 0 and fired["drop"] > 0 and fired["burst_429"] > 0, fired
        assert fired["error_after_commit"] > 0, fired
        active = Counter(o["metadata"]["metorial-apply/address"] for o in server.objects("faults", status="active"))
        assert set(active) == expected_addresses()  # zero missing
        assert max(active.values()) == 1, [a for a, n in active.items() if n > 1]  # zero duplicates
        providers = list(
            server.admin("GET", "/objects", params={"kind": "template_provider", "status": "active"})["items"]
        )
        per_template = Counter(p["session_template_id"] for p in providers)
        assert per_template and max(per_template.values()) == 1
        plan = run_cli(["plan", str(path), "--detailed-exitcode"], env=env)
        assert plan.code == 0, plan.out[-2000:] + plan.err


def test_a_create_answered_500_after_its_commit_adopts_ours_not_another_stacks(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """Stack `theirs` already has deployment.gh; our first create of deployment.gh commits and is
    answered 500. Recovery lists every deployment: it must adopt ours and neither adopt nor
    delete (as a "duplicate") theirs."""
    env = {"METORIAL_API_URL": emulator.url, "METORIAL_API_KEY": SECRET_KEY}
    for stack in ("theirs", "ours"):
        (tmp_path / stack).mkdir()
        (tmp_path / stack / "stack.yaml").write_text(f"stack: {stack}\ndeployments:\n  gh: {{provider: github}}\n")
    assert run_cli(["apply", str(tmp_path / "theirs"), "--auto-approve"], env=env).code == 0
    [theirs] = emulator.objects("theirs", status="active")
    # Aimed at the deployments: the stack lock's own writes come first and are not faulted.
    emulator.faults(error_after_commit_next=1, next_path="/provider-deployments")
    result = run_cli(["apply", str(tmp_path / "ours"), "--auto-approve"], env=env)
    assert result.code == 0, result.out + result.err
    assert "adopted after a lost response" in result.out and "duplicate" not in result.out
    assert emulator.stats()["faults"]["error_after_commit"] == 1
    [ours] = emulator.objects("ours", status="active")
    assert ours["id"] != theirs["id"]
    assert emulator.objects("theirs", status="active") == [theirs]  # untouched, not archived
    for stack in ("theirs", "ours"):
        assert run_cli(["plan", str(tmp_path / stack), "--detailed-exitcode"], env=env).code == 0
