"""`--secrets-out`: a dotenv file, 0600, created exclusively, synced key by key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from metorial_apply.apply.secrets_out import SecretsOut, dotenv_line, variable_names
from metorial_apply.core.errors import UsageError
from metorial_apply.core.keys import CreatedKey, LiveKey
from metorial_apply.core.model import SecretValue


def created(secret: str, identity: str = "ci_abc") -> CreatedKey:
    return CreatedKey(key=LiveKey(backend="metal", name="prod~sync~1", identity=identity, id="1"),
                      secret=SecretValue(secret))


def test_keys_are_written_as_dotenv_lines_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.env"
    with SecretsOut.open(path) as out:
        out.add("metal-sync", "metal", created("pk_secret_1"))
        assert "pk_secret_1" in path.read_text()  # synced before the run goes on
        out.add("ingest.v2", "metlo", created("metlo_x y", "metlo.abc"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    assert lines == ["METAL_SYNC_SECRET=pk_secret_1", "METAL_SYNC_CLIENT_ID=ci_abc", "METAL_SYNC_IDENTIFIER=ci_abc",
                     "INGEST_V2_SECRET='metlo_x y'", "INGEST_V2_IDENTIFIER=metlo.abc"]
    assert "pk_secret_1" not in repr(out)


def test_an_existing_file_or_symlink_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys.env"
    path.write_text("KEEP=1\n")
    with pytest.raises(UsageError, match="the file exists; it is never overwritten"):
        SecretsOut.open(path)
    assert path.read_text() == "KEEP=1\n"
    link = tmp_path / "link.env"
    os.symlink(tmp_path / "elsewhere.env", link)
    with pytest.raises(UsageError):
        SecretsOut.open(link)
    assert not (tmp_path / "elsewhere.env").exists()


def test_names_that_would_collide_and_values_dotenv_cannot_hold_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"api_key.a-b and api_key.a.b would both write A_B_SECRET"):
        SecretsOut.open(tmp_path / "first.env", [("a.b", "metlo"), ("a-b", "metlo")])
    assert not (tmp_path / "first.env").exists()  # refused before the file (or any key) is made
    with SecretsOut.open(tmp_path / "k.env") as out:
        out.add("a-b", "metlo", created("s1"))
        with pytest.raises(UsageError, match="two keys would both write A_B_IDENTIFIER"):
            out.add("a.b", "metlo", created("s2"))
    with pytest.raises(UsageError, match="cannot be written to a dotenv file"):
        dotenv_line("X", "it's")
    assert variable_names("9lives", "metlo") == {"secret": "_9LIVES_SECRET", "identifier": "_9LIVES_IDENTIFIER"}


def test_a_name_from_the_server_cannot_add_a_line_to_the_file(tmp_path: Path) -> None:
    """A backend's create answer names the key; a line break in it must not start a shell line."""
    hostile = CreatedKey(key=LiveKey(backend="metal", name="prod~sync~1\nexport PWNED=$(id)\r#" + "x" * 500,
                                     identity="ci_abc", id="1"), secret=SecretValue("pk_secret_1"))
    path = tmp_path / "keys.env"
    with SecretsOut.open(path) as out:
        out.add("metal-sync", "metal", hostile)
    lines = path.read_text().splitlines()
    assert not [line for line in lines if "PWNED" in line and not line.startswith("#")]
    assert all(line.startswith("#") or line.split("=", 1)[0].startswith("METAL_SYNC_") for line in lines)
    assert max(len(line) for line in lines) < 300  # cut short
    with pytest.raises(UsageError, match="not a variable name"):
        dotenv_line("X;rm -rf /", "v")
