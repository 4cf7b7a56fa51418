"""Any key of the organization can write metadata: a reserved `metorial-apply/` key added to a
managed object by hand (the lock's key among them) never hides the object from the live read and
never makes the stack look locked. Through the real CLI against a real-HTTP emulator."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.apply.test_imports_cli import AUTH, PREFIX, active, cli, get

CONFIG = """\
stack: rk
deployments:
  gh: {provider: github, metadata: {team: a}}
session_templates:
  bot: {description: d, providers: []}
"""


def patch_metadata(server: object, path: str, id: str, extra: dict[str, str]) -> None:
    current = get(server, path, id)["metadata"]  # type: ignore[arg-type]
    response = httpx.patch(f"{server.url}{path}/{id}", json={"metadata": current | extra},  # type: ignore[attr-defined]
                           headers=AUTH, timeout=10)
    response.raise_for_status()


def test_a_reserved_key_added_by_hand_hides_nothing_and_locks_nothing(emulator: object, tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(CONFIG)
    assert cli(emulator, "apply", str(path), "--auto-approve").code == 0  # type: ignore[arg-type]
    objects = {o["name"]: o for o in emulator.objects(status="active")}  # type: ignore[attr-defined]
    dep, bot = objects["gh"], objects["bot"]
    patch_metadata(emulator, "/provider-deployments", dep["id"], {PREFIX + "lock": "rk", PREFIX + "index": "rk"})
    patch_metadata(emulator, "/session-templates", bot["id"], {PREFIX + "lock": "rk", PREFIX + "lock-run": "x"})
    before = active(emulator)  # type: ignore[arg-type]
    planned = cli(emulator, "plan", str(path), "--detailed-exitcode")  # type: ignore[arg-type]
    assert planned.code == 0, planned.out + planned.err  # both still ours, nothing to create
    applied = cli(emulator, "apply", str(path), "--auto-approve", "--lock-timeout", "0")  # type: ignore[arg-type]
    assert applied.code == 0 and "locked" not in applied.err, applied.out + applied.err
    assert active(emulator) == before  # type: ignore[arg-type]
