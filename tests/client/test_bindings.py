"""The live read records which of our objects the platform bound others to (KindSpec.bound_by):
auth configs an OAuth setup bound to credentials, which can never move to new credentials."""

from __future__ import annotations

from metorial_apply.api.live import live_state
from metorial_apply.core.model import Catalog, Stamp


def credentials(id: str, name: str) -> dict[str, object]:
    stamp = Stamp(stack="prod", address=f"auth_credentials.{name}", spec_hash="sha256:x").to_metadata()
    return {"id": id, "object": "provider.auth_credentials", "status": "active", "name": name,
            "provider_id": "github", "scopes": [], "metadata": stamp}


def auth_config(id: str, bound_to: str | None, status: str = "active") -> dict[str, object]:
    return {"id": id, "object": "provider.auth_config", "status": status, "name": id, "provider_id": "github",
            "metadata": {}, "credentials": {"id": bound_to} if bound_to else None}


def test_auth_configs_bound_to_our_credentials_are_recorded_by_credentials_id() -> None:
    listed = {"auth_credentials": [credentials("par_1", "app"), credentials("par_2", "other")],
              "auth_config": [auth_config("pac_b", "par_1"), auth_config("pac_a", "par_1"), auth_config("pac_c", None),
                              auth_config("pac_old", "par_2", status="archived"), auth_config("pac_x", "par_foreign")]}
    read = live_state("prod", Catalog(), listed)
    assert read.state.bound == {"par_1": ("pac_a", "pac_b")}
    assert read.state.with_resources(list(read.state)).bound == read.state.bound  # kept through rebinds
