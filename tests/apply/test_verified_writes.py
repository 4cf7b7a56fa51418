"""A write is verified, not assumed. Against the in-process emulator (which answers as the API
does: filters as `tool_filter`, trimmed names, blank descriptions as null, default configs), every
apply passes; a server that answers 200 to a PATCH but drops one field fails exactly that change,
with the field named, and the next plan still shows the change (never "No changes")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from metorial_apply.api.catalog import fetch_catalog
from metorial_apply.api.client import open_client
from metorial_apply.api.live import read_live
from metorial_apply.apply.report import ApplyReport
from metorial_apply.apply.run import apply_plan
from metorial_apply.config.load import load_config
from metorial_apply.config.resolve import resolve_names
from metorial_apply.planning.plan import Action, Plan, build_plan

pytestmark = pytest.mark.anyio
BASE = """\
stack: v
deployments:
  gh: {provider: github, description: d1, metadata: {team: a}, tools: [create_issue], version: "1.0.0"}
config_vaults:
  vault: {provider: github, description: d1, metadata: {team: a}, value: {base_url: "https://a"}}
configs:
  cfg: {deployment: gh, description: d1, metadata: {team: a}, tools: [create_issue], value: {base_url: "https://a"}}
auth_configs:
  tok: {deployment: gh, method: token, description: d1, metadata: {team: a}, tools: [create_issue],
        value: {token: t}}
session_templates:
  bot:
    description: d1
    metadata: {team: a}
    providers: [{deployment: gh, config: cfg, auth_config: tok, tools: [create_issue]}]
"""
# (resource, YAML edit, the PATCH body key a dropping server ignores, the field the error names)
CASES = [
    ("deployment.gh", ("description: d1, metadata: {team: a}, tools: [create_issue], version",
                       "description: d2, metadata: {team: a}, tools: [create_issue], version"),
     "description", "description"),
    ("deployment.gh", ("tools: [create_issue], version", "tools: [list_issues], version"), "tool_filters", "tools"),
    ("deployment.gh", ('version: "1.0.0"', 'version: "1.1.0"'), "locked_provider_version_id", "version"),
    ("deployment.gh", ("gh: {provider: github, description: d1", "gh: {provider: github, name: GH, description: d1"),
     "name", "name"),
    ("config_vault.vault", ("vault: {provider: github, description: d1, metadata: {team: a}",
                            "vault: {provider: github, description: d1, metadata: {team: b}"), "metadata", "metadata"),
    ("config.cfg", ("cfg: {deployment: gh, description: d1, metadata: {team: a}, tools: [create_issue]",
                    "cfg: {deployment: gh, description: d1, metadata: {team: a}, tools: [get_issue]"),
     "tool_filters", "tools"),
    ("auth_config.tok", ("tok: {deployment: gh, method: token, description: d1",
                         "tok: {deployment: gh, method: token, description: d2"), "description", "description"),
    ("session_template.bot", ("    description: d1\n    metadata: {team: a}\n    providers",
                              "    description: d2\n    metadata: {team: a}\n    providers"), "description",
     "description"),
    ("session_template.bot", ("auth_config: tok, tools: [create_issue]}", "auth_config: tok, tools: [get_issue]}"),
     "tool_filters", "providers[gh].tools"),
]


class Dropping:
    """The local client; a PATCH of `path` answers 200 but loses `key` from its body."""

    def __init__(self, inner: Any, key: str) -> None:
        self.inner, self.key = inner, key

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def update(self, path: str, id: str, body: dict[str, Any], *, kind: str, name: str) -> Any:
        return await self.inner.update(path, id, {k: v for k, v in body.items() if k != self.key}, kind=kind,
                                       name=name)


async def run(config: Path, drop: str | None = None, *, apply: bool = True) -> tuple[Plan, ApplyReport | None]:
    state = config.parent / ".metorial-apply"
    async with open_client("local", None, state_dir=state) as client:
        catalog = await fetch_catalog(client)
        desired = resolve_names(load_config(config, env={}), catalog)
        plan = build_plan(desired, (await read_live(client, "v", catalog)).state)
        if not apply:
            return plan, None
        api = Dropping(client, drop) if drop else client
        return plan, await apply_plan(plan, api, catalog=catalog)


@pytest.fixture
async def applied(tmp_path: Path) -> Path:
    config = tmp_path / "stack.yaml"
    config.write_text(BASE)
    _, report = await run(config)
    assert report is not None and report.ok, report
    assert not (await run(config, apply=False))[0].actionable()  # what the emulator answers passes as sent
    return config


@pytest.mark.parametrize(("address", "edit", "key", "field"), CASES, ids=[f"{c[0]}:{c[3]}" for c in CASES])
async def test_a_field_the_server_drops_fails_that_change_and_stays_planned(
        applied: Path, address: str, edit: tuple[str, str], key: str, field: str) -> None:
    assert BASE.count(edit[0]) == 1
    applied.write_text(BASE.replace(edit[0], edit[1]))
    plan, report = await run(applied, drop=key)
    assert report is not None and [str(c.address) for c in plan.actionable()] == [address]
    [result] = report.results
    assert result.outcome.value == "failed", result
    assert result.error is not None and f"the API accepted the update but did not apply {field}" in result.error
    assert result.error.startswith(f"{address}: PATCH /")
    again, _ = await run(applied, apply=False)
    assert [(str(c.address), c.action) for c in again.actionable()] == [(address, Action.UPDATE)]
    _, fixed = await run(applied)  # a server that applies it: converges
    assert fixed is not None and fixed.ok and not (await run(applied, apply=False))[0].actionable()
