"""Issue 22 item 9 through the CLI against three `emulator serve` processes: Metal answers a
create with its secret under another name than `key`. Each run stops with the field names (no
value), deletes the key it made and creates no other; three runs leave no extra key, and once
the answer matches again the key is made as usual."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import KeyServers
from .test_keys_cli import cli, ours, setup

SECRET = re.compile(r"pk_[A-Za-z0-9]{20,}")


def metal_calls(servers: KeyServers, route: str) -> int:
    return int(servers.metal.stats()["calls"].get(route, 0))


def test_three_runs_against_a_renamed_secret_field_leave_no_extra_key(key_servers: KeyServers,
                                                                      tmp_path: Path) -> None:
    config = setup(tmp_path)
    key_servers.metal.admin("PUT", "/faults", json={"secret_field": "secret"})
    before = len(key_servers.metal.api_keys())
    for run in range(1, 4):
        # A failed run leaves its lock record to expire 1 s later (its index entry stays open): wait for it.
        code, out = cli(key_servers, "apply", str(config), "--auto-approve", "--lock-timeout", "30")
        assert code == 1, (run, out)
        assert "no secret field `key`; it has clientId, createdAt, id, keyLastFour, name, secret" in out, (run, out)
        assert "was deleted" in out and not SECRET.search(out)
        assert ours(key_servers.metal) == []
        assert metal_calls(key_servers, "POST /v1/keys") == run  # one create a run, never a re-create
    assert len([k for k in key_servers.metal.api_keys() if k["status"] == "active"]) == before
    key_servers.metal.admin("PUT", "/faults", json={"secret_field": None})
    code, out = cli(key_servers, "apply", str(config), "--auto-approve", "--lock-timeout", "30")
    assert code == 0, out
    assert ours(key_servers.metal) == ["prod~metal-sync~1"]
