"""The stack index against dashboard edits, through the real CLI and a real-HTTP emulator: a stamp
removed by hand is restored by one update (never a create, replace or delete), and a stamp copied
onto a foreign object claims nothing (a look-alike: left alone, warned about once)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from metorial_apply.core.kinds import METORIAL_KINDS
from tests.apply.conftest import Result, run_cli
from tests.bookkeeping import is_bookkeeping
from tests.emulator_server import SECRET_KEY, EmulatorProcess

AUTH = {"Authorization": f"Bearer {SECRET_KEY}"}
PREFIX = "metorial-apply/"
RESTORED = "ownership stamp removed outside metorial-apply (will be restored)"
# The emulator's admin listing names a vault "vault"; the API paths are the kinds' own.
PATHS = {("vault" if k.kind == "config_vault" else k.kind): k.path for k in METORIAL_KINDS.values() if k.path}

# Every kind, each with user metadata of its own, so a restore must keep the YAML's keys.
STACK = """\
stack: ix
deployments:
  gh: {provider: github, metadata: {team: a}}
config_vaults:
  vault: {provider: github, metadata: {team: a}, value: {base_url: "https://a"}}
configs:
  cfg: {deployment: gh, metadata: {team: a}, value: {base_url: "https://a"}}
auth_configs:
  tok: {deployment: gh, method: token, metadata: {team: a}, value: {token: t}}
auth_credentials:
  app: {provider: github, metadata: {team: a}, client_id: Iv1.x, client_secret: s, scopes: [repo]}
session_templates:
  bot:
    description: d
    metadata: {team: a}
    providers: [{deployment: gh, config: cfg, auth_config: tok}]
"""


def cli(server: EmulatorProcess, *args: str, env: dict[str, str | None] | None = None) -> Result:
    base: dict[str, str | None] = {"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY}
    return run_cli(list(args), env=base | (env or {}))  # type: ignore[arg-type]  # None unsets


def ok(result: Result, code: int = 0) -> Result:
    assert result.code == code, f"exit {result.code}\n{result.out}\n{result.err}"
    return result


def resources(server: EmulatorProcess) -> dict[str, dict[str, Any]]:
    """Active objects of the six kinds by id, the lock's and the index's records left out."""
    return {o["id"]: o for o in server.objects(status="active")
            if o.get("kind") in PATHS and not is_bookkeeping(o)}


def by_address(server: EmulatorProcess) -> dict[str, dict[str, Any]]:
    return {o["metadata"][PREFIX + "address"]: o for o in resources(server).values()
            if PREFIX + "address" in (o.get("metadata") or {})}


def stamp_of(obj: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in obj["metadata"].items() if k.startswith(PREFIX)}


def user_of(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj["metadata"].items() if not k.startswith(PREFIX)}


def set_metadata(server: EmulatorProcess, obj: dict[str, Any], metadata: dict[str, Any]) -> None:
    """A dashboard edit: the API's PATCH replaces metadata whole."""
    path = PATHS[obj["kind"]]
    httpx.patch(f"{server.url}{path}/{obj['id']}", json={"metadata": metadata}, headers=AUTH,
                timeout=10).raise_for_status()


def live(server: EmulatorProcess, obj: dict[str, Any]) -> dict[str, Any]:
    response = httpx.get(f"{server.url}{PATHS[obj['kind']]}/{obj['id']}", headers=AUTH, timeout=10)
    response.raise_for_status()
    return response.json()


def planned(server: EmulatorProcess, path: Path, *extra: str) -> list[dict[str, Any]]:
    """The plan's changes other than no-ops, from `plan --json`."""
    doc = json.loads(ok(cli(server, "plan", str(path), "--json", *extra)).out)
    return [c for c in doc["changes"] if c["action"] != "noop"]


def applied(server: EmulatorProcess, path: Path) -> dict[str, dict[str, Any]]:
    """Apply `path` (the first apply of its stack); its objects by address."""
    ok(cli(server, "apply", str(path), "--auto-approve"))
    return by_address(server)


@pytest.mark.parametrize("address", ["deployment.gh", "config.cfg", "config_vault.vault", "auth_config.tok",
                                     "auth_credentials.app", "session_template.bot"])
def test_a_stamp_removed_in_the_dashboard_is_restored_by_one_update(
        emulator: EmulatorProcess, tmp_path: Path, address: str) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK)
    obj = applied(emulator, path)[address]
    stamp, ids = stamp_of(obj), set(resources(emulator))
    set_metadata(emulator, obj, {"team": "a", "edited": "in the dashboard"})  # our keys gone, one key added
    plan = ok(cli(emulator, "plan", str(path), "--detailed-exitcode"), 2)
    assert f"~ {address}" in plan.out and RESTORED in plan.out, plan.out
    changes = planned(emulator, path)
    assert [(c["action"], c["address"], c["id"]) for c in changes] == [("update", address, obj["id"])], changes
    ok(cli(emulator, "apply", str(path), "--auto-approve", "--allow-delete"))  # the shipped CI recipe's flags
    after = live(emulator, obj)
    # the restored stamp is the one applied (a new run id aside); user metadata is the YAML's again
    assert {k: v for k, v in stamp_of(after).items() if k != PREFIX + "run"} == \
        {k: v for k, v in stamp.items() if k != PREFIX + "run"}
    assert stamp_of(after)[PREFIX + "run"] and user_of(after) == {"team": "a"}
    assert set(resources(emulator)) == ids
    ok(cli(emulator, "plan", str(path), "--detailed-exitcode"))


PROTECTED = STACK.replace("  gh: {provider: github, metadata: {team: a}}\n",
                          "  gh: {provider: github, metadata: {team: a}}\n  keep: {provider: github, protect: true}\n")
WITHOUT_KEEP = STACK


def index_key() -> str:
    return ok(run_cli(["keygen", "--index"])).out.strip()


def test_a_wiped_protected_resource_dropped_from_the_yaml_is_refused_with_a_signed_index(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    signed = {"METORIAL_APPLY_INDEX_KEY": index_key()}
    path = tmp_path / "stack.yaml"
    path.write_text(PROTECTED)
    ok(cli(emulator, "apply", str(path), "--auto-approve", env=signed))
    keep = by_address(emulator)["deployment.keep"]
    set_metadata(emulator, keep, {})
    path.write_text(WITHOUT_KEEP)
    refused = cli(emulator, "apply", str(path), "--auto-approve", "--allow-delete", env=signed)
    assert refused.code != 0 and "protect" in refused.err and "deployment.keep" in refused.err, refused.err
    assert live(emulator, keep)["status"] == "active"


def test_a_wiped_protected_resource_dropped_from_the_yaml_is_left_alone_without_a_signing_key(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(PROTECTED)
    keep = applied(emulator, path)["deployment.keep"]
    set_metadata(emulator, keep, {})
    path.write_text(WITHOUT_KEEP)
    # anyone could have written an unsigned index: an unstamped entry is never deleted on its word
    assert planned(emulator, path) == []
    done = ok(cli(emulator, "apply", str(path), "--auto-approve", "--allow-delete"))
    assert done.err.count(keep["id"]) == 1 and "left alone" in done.err, done.err
    assert live(emulator, keep)["status"] == "active"
    # An apply that writes the index keeps the entry it left alone: back in the YAML, the object
    # is restored by an update, never created twice.
    path.write_text(WITHOUT_KEEP.replace("{provider: github, metadata: {team: a}}",
                                         "{provider: github, metadata: {team: b}}", 1))
    ok(cli(emulator, "apply", str(path), "--auto-approve", "--allow-delete"))
    path.write_text(PROTECTED)
    back = [(c["action"], c.get("id")) for c in planned(emulator, path)]
    assert ("update", keep["id"]) in back and all(action == "update" for action, _ in back), back


SECRET_CHANGED = STACK.replace('cfg: {deployment: gh, metadata: {team: a}, value: {base_url: "https://a"}}',
                               'cfg: {deployment: gh, metadata: {team: a}, value: {base_url: "https://b"}}')


def test_a_wiped_config_stamp_with_a_changed_secret_plans_what_a_changed_secret_plans(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(STACK)
    cfg = applied(emulator, path)["config.cfg"]
    path.write_text(SECRET_CHANGED)
    stamped = planned(emulator, path)
    # the template follows the new config (an update): the same with the stamp wiped
    assert [(c["action"], c["address"]) for c in stamped] == [("replace", "config.cfg"),
                                                               ("update", "session_template.bot")], stamped
    assert "secret" in stamped[0]["reason"], stamped
    set_metadata(emulator, cfg, user_of(cfg))  # the stamp wiped, the user's keys as they were
    plan = ok(cli(emulator, "plan", str(path), "--detailed-exitcode"), 3)
    assert "No changes" not in plan.out and "-/+ config.cfg" in plan.out, plan.out
    wiped = planned(emulator, path)
    keys = ("action", "address", "id", "reason", "fields", "diffs")
    assert [{k: c[k] for k in keys} for c in wiped] == [{k: c[k] for k in keys} for c in stamped]


def foreign_deployment(server: EmulatorProcess, name: str) -> dict[str, Any]:
    """A deployment made by hand (httpx, no stamp), as another team would in the dashboard."""
    response = httpx.post(f"{server.url}/provider-deployments", json={"name": name, "provider_id": "github"},
                          headers=AUTH, timeout=10)
    response.raise_for_status()
    return {**response.json(), "kind": "deployment"}


def template_deployments(server: EmulatorProcess, template: dict[str, Any]) -> list[str]:
    return [p["deployment"]["id"] for p in live(server, template)["providers"]]


def test_a_stamp_copied_onto_older_and_newer_foreign_objects_claims_nothing(
        emulator: EmulatorProcess, tmp_path: Path) -> None:
    older = foreign_deployment(emulator, "older")  # made before the stack's first apply
    path = tmp_path / "stack.yaml"
    path.write_text(STACK)
    ours = applied(emulator, path)
    gh, bot = ours["deployment.gh"], ours["session_template.bot"]
    newer = foreign_deployment(emulator, "newer")
    for copy in (older, newer):
        set_metadata(emulator, copy, gh["metadata"])  # the managed deployment's metadata, run id and all
    foreign = [live(emulator, o) for o in (older, newer)]
    before, pointed = resources(emulator), template_deployments(emulator, bot)
    plan = ok(cli(emulator, "plan", str(path), "--detailed-exitcode"))
    applied_ = ok(cli(emulator, "apply", str(path), "--auto-approve", "--allow-delete"))
    for result in (plan, applied_):
        for copy in foreign:
            warnings = [line for line in result.err.splitlines() if copy["id"] in line]
            assert len(warnings) == 1 and "left alone" in warnings[0], result.err
    assert planned(emulator, path) == []
    assert resources(emulator) == before  # nothing made, deleted or written: ours and theirs alike
    assert template_deployments(emulator, bot) == pointed == [gh["id"]]
    assert [live(emulator, o) for o in (older, newer)] == foreign  # same metadata, still active
    assert all(o["status"] == "active" and o["metadata"] == gh["metadata"] for o in foreign)
