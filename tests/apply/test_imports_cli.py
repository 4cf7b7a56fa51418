"""`imports:`, `moved:`, `removed:` and the look-alike note through the real CLI against a
real-HTTP emulator: objects made by hand (httpx, no stamp) are adopted without a create."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.apply.conftest import run_cli
from tests.emulator_server import SECRET_KEY, EmulatorProcess

AUTH = {"Authorization": f"Bearer {SECRET_KEY}"}
PREFIX = "metorial-apply/"


def env(server: EmulatorProcess) -> dict[str, str]:
    return {"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY}


def by_hand(server: EmulatorProcess, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{server.url}{path}", json=body, headers=AUTH, timeout=10)
    response.raise_for_status()
    return response.json()


def get(server: EmulatorProcess, path: str, id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}{path}/{id}", headers=AUTH, timeout=10)
    response.raise_for_status()
    return response.json()


def cli(server: EmulatorProcess, *args: str) -> Any:
    return run_cli(list(args), env=env(server))


def creates(server: EmulatorProcess) -> int:
    """Create calls for resources since the last stats reset (the stack lock's own record, a
    session template created and deleted by every apply, is not one)."""
    calls = server.stats()["calls"]
    return sum(n for k, n in calls.items() if k.startswith("POST ")) - calls.get("DELETE /session-templates/{id}", 0)


def active(server: EmulatorProcess) -> int:
    return len(server.objects(status="active"))


def hand_made(server: EmulatorProcess) -> tuple[str, str]:
    """A deployment and a config made in the "dashboard": no stamp, user metadata kept."""
    dep = by_hand(server, "/provider-deployments", {"name": "github", "provider_id": "github",
                                                     "metadata": {"team": "support"}})
    cfg = by_hand(server, "/provider-configs", {"name": "gh-cfg", "provider_deployment_id": dep["id"],
                                                "provider_id": "github",
                                                "value": {"base_url": "https://api.github.com"}})
    return dep["id"], cfg["id"]


CONFIG = """\
stack: {stack}
deployments:
  github: {{provider: github, description: {desc}, metadata: {{team: support}}}}
configs:
  gh-cfg: {{deployment: github, value: {{base_url: "https://api.github.com"}}}}
imports:
  - {{to: deployment.github, id: {dep}}}
  - {{to: config.gh-cfg, id: {cfg}}}
"""


def write_imports(path: Path, dep: str, cfg: str, stack: str = "imp", desc: str = "Tools") -> Path:
    path.write_text(CONFIG.format(stack=stack, desc=desc, dep=dep, cfg=cfg))
    return path


def test_hand_made_objects_are_imported_with_no_create_and_the_next_plan_is_empty(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    dep, cfg = hand_made(emulator)
    path = write_imports(tmp_path / "stack.yaml", dep, cfg)
    plan = cli(emulator, "plan", str(path), "--detailed-exitcode")
    assert plan.code == 2, plan.out + plan.err
    assert f"<= deployment.github" in plan.out and f"adopt {dep}" in plan.out and "description" in plan.out
    assert "to import" in plan.out and "config's value cannot be read" not in plan.out
    assert "value cannot be read from the API" in plan.out  # the secret is taken as live, compared from now on
    emulator.admin("POST", "/reset", json={"stats_only": True})
    before = active(emulator)
    applied = cli(emulator, "apply", str(path), "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert creates(emulator) == 0 and active(emulator) == before, emulator.stats()["calls"]
    assert emulator.stats()["calls"]["PATCH /provider-deployments/{id}"] == 1
    live = get(emulator, "/provider-deployments", dep)
    assert live["metadata"]["team"] == "support" and live["metadata"][PREFIX + "address"] == "deployment.github"
    assert live["description"] == "Tools"
    assert get(emulator, "/provider-configs", cfg)["metadata"][PREFIX + "stack"] == "imp"
    again = cli(emulator, "plan", str(path), "--detailed-exitcode")  # the imports block stays: a no-op
    assert again.code == 0, again.out + again.err
