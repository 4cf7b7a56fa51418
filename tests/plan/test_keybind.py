"""Consumers bound to key identities: the plain diff then replaces consumers of a new key
generation, and a consumer created for any reason gets a new key generation (`settle`)."""

from __future__ import annotations

from datetime import UTC, datetime

from metorial_apply.core.keys import DesiredKey, LiveKey
from metorial_apply.core.keyslots import bind, slot
from metorial_apply.core.model import Address
from metorial_apply.core.state import State
from metorial_apply.planning.keybind import PENDING, bind_state, planned_identities, settle
from metorial_apply.planning.keys import KeyInputs
from metorial_apply.planning.plan import Action, build_plan

from .factory import desired, live, state

VAULT = Address(kind="config_vault", name="sync-creds")
OTHER = Address(kind="config_vault", name="sync-creds-2")
KEY = LiveKey(backend="metal", name="prod~sync~1", identity="ci_one", id="k1",
              created=datetime(2026, 1, 1, tzinfo=UTC).isoformat())


def consumer(name: str, extra: dict[str, str] | None = None) -> object:
    value = {"client_id": slot("sync", "client_id"), "api_key": slot("sync", "secret")} | (extra or {})
    return desired("config_vault", name, {"provider": "metal", "value": value})


def setup(extra: dict[str, str] | None = None, rotate: frozenset[str] = frozenset()) -> tuple[KeyInputs, State, State]:
    """A desired vault pair holding key `sync`, and live twins applied while they held `ci_one`."""
    vaults = [consumer("sync-creds", extra), consumer("sync-creds-2")]
    wanted = State.of("prod", vaults, api_keys=(DesiredKey(name="sync", backend="metal", consumers=(VAULT, OTHER)),))
    applied = [live(v.model_copy(update={"secret": bind(v.secret, {"sync": "ci_one"})})) for v in
               [consumer("sync-creds"), consumer("sync-creds-2")]]
    inputs = KeyInputs(stack="prod", desired=wanted.api_keys, live=(KEY,), backend_types={"metal": "metal"},
                       held={"sync": frozenset({"ci_one"})}, rotate=rotate)
    return inputs, wanted, state(*applied)


def recreated_by(live_state: State):  # type: ignore[no-untyped-def]
    def recreated(bound: State) -> frozenset[Address]:
        plan = build_plan(bound, live_state)
        return frozenset(c.address for c in plan.changes if c.action in (Action.CREATE, Action.REPLACE))
    return recreated


def test_an_applied_consumer_of_a_kept_key_plans_nothing() -> None:
    inputs, wanted, applied = setup()
    keys, bound = settle(inputs, wanted, recreated_by(applied))
    assert [c.action for c in keys.changes] == ["noop"]
    assert [c.action for c in build_plan(bound, applied).changes] == [Action.NOOP, Action.NOOP]


def test_a_rotated_key_replaces_every_consumer() -> None:
    inputs, wanted, applied = setup(rotate=frozenset({"sync"}))
    keys, bound = settle(inputs, wanted, recreated_by(applied))
    assert [(c.action, c.create) for c in keys.changes] == [("rotate", "prod~sync~2")]
    assert planned_identities(keys) == {"sync": PENDING}
    assert [c.action for c in build_plan(bound, applied).changes] == [Action.REPLACE, Action.REPLACE]


def test_a_consumer_whose_value_changed_forces_a_new_key_and_so_replaces_the_others() -> None:
    inputs, wanted, applied = setup(extra={"region": "eu"})
    keys, bound = settle(inputs, wanted, recreated_by(applied))
    assert [(c.action, c.reason) for c in keys.changes] == [
        ("rotate", "config_vault.sync-creds is created and needs the key's secret (shown only once): new key")]
    assert [c.action for c in build_plan(bound, applied).changes] == [Action.REPLACE, Action.REPLACE]


def test_bind_state_leaves_values_without_slots_alone() -> None:
    plain = desired("config_vault", "plain", {"provider": "metal", "value": {"k": "v"}})
    bound = bind_state(State.of("prod", [plain, consumer("sync-creds")]), {"sync": "ci_one"})
    assert bound.get(plain.address) == plain
    sync = bound.get(VAULT)
    assert sync is not None and sync.secret is not None and sync.secret.reveal()["api_key"] == "key:sync@ci_one.secret"
