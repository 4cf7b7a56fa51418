"""Consumers settled with their keys in build_plan: values bound to key identities, so the plain
diff replaces the consumers of a new key generation, a consumer created for any reason gets its
key a new generation, and the key changes sit in the one plan with the graph's edges."""

from __future__ import annotations

from datetime import UTC, datetime

from metorial_apply.core.keys import DesiredKey, KeyBackend, LiveKey, bind, slot
from metorial_apply.core.model import Address, Resource
from metorial_apply.core.state import State
from metorial_apply.planning.keys import PENDING, bind_state
from metorial_apply.planning.plan import Action, Plan, build_plan
from metorial_apply.planning.saved import saved_targets

from .factory import desired, live

VAULT = Address(kind="config_vault", name="sync-creds")
OTHER = Address(kind="config_vault", name="sync-creds-2")
KEY_ADDRESS = Address(kind="api_key", name="sync")
KEY = LiveKey(backend="metal", name="prod~sync~1", identity="ci_one", id="k1",
              created=datetime(2026, 1, 1, tzinfo=UTC).isoformat())


def consumer(name: str, extra: dict[str, str] | None = None) -> Resource:
    value = {"client_id": slot("sync", "client_id"), "api_key": slot("sync", "secret")} | (extra or {})
    return desired("config_vault", name, {"provider": "metal", "value": value})


def applied(resource: Resource, identity: str = "ci_one") -> Resource:
    """The live twin of a consumer applied while it held `identity`: bound value, held record."""
    assert resource.secret is not None
    twin = live(resource.model_copy(update={"secret": bind(resource.secret, {"sync": identity})}))
    assert twin.stamp is not None
    return twin.model_copy(update={"stamp": twin.stamp.model_copy(update={"keys": f"sync={identity}"})})


def states(extra: dict[str, str] | None = None) -> tuple[State, State]:
    """A desired vault pair holding key `sync`, and live twins that held `ci_one`."""
    backend = KeyBackend(name="metal", type="metal", url="local", url_from="local")
    wanted = State.of("prod", [consumer("sync-creds", extra), consumer("sync-creds-2")],
                      api_keys=(DesiredKey(name="sync", backend="metal"),),
                      key_backends=(backend,))
    have = State.of("prod", [applied(consumer("sync-creds")), applied(consumer("sync-creds-2"))], keys=(KEY,))
    return wanted, have


def planned(extra: dict[str, str] | None = None, rotate: tuple[str, ...] = ()) -> Plan:
    return build_plan(*states(extra), rotate=rotate)


def actions(plan: Plan) -> dict[str, Action]:
    return {str(c.address): c.action for c in plan.changes}


def test_an_applied_consumer_of_a_kept_key_plans_nothing() -> None:
    plan = planned()
    assert actions(plan) == {"api_key.sync": Action.NOOP, str(VAULT): Action.NOOP, str(OTHER): Action.NOOP}
    assert "api_key.sync" in plan.live_fingerprints  # a key created or re-created since makes a saved plan stale


def test_a_rotated_key_replaces_every_consumer_in_one_graph() -> None:
    plan = planned(rotate=("sync",))
    assert actions(plan) == {"api_key.sync": Action.ROTATE, str(VAULT): Action.REPLACE, str(OTHER): Action.REPLACE}
    by = {c.address: c for c in plan.changes}
    # Consumers wait for the new generation; the old one is deleted after both let go of it.
    assert by[VAULT].depends_on == (KEY_ADDRESS,) and by[OTHER].depends_on == (KEY_ADDRESS,)
    assert by[KEY_ADDRESS].delete_after == (VAULT, OTHER) and by[KEY_ADDRESS].replace_mode == "create_first"
    assert by[VAULT].reason.endswith("new key generation of api_key.sync")
    # The consumer carries its value template: its slots are filled at apply time, never bound to PENDING.
    assert by[VAULT].desired is not None and by[VAULT].desired.secret == consumer("sync-creds").secret
    assert str(plan.changes[0].address) == "api_key.sync"  # listed in the order they run


def test_a_consumer_whose_value_changed_forces_a_new_key_and_so_replaces_the_others() -> None:
    plan = planned(extra={"region": "eu"})
    key = next(c for c in plan.changes if c.address == KEY_ADDRESS)
    assert (key.action, key.reason) == (
        Action.ROTATE, "config_vault.sync-creds is created and needs the key's secret (shown only once): new key")
    assert actions(plan)[str(VAULT)] is Action.REPLACE and actions(plan)[str(OTHER)] is Action.REPLACE


def test_keys_are_not_planned_when_no_backend_was_read() -> None:
    wanted = State.of("prod", [consumer("sync-creds")],
                      api_keys=(DesiredKey(name="sync", backend="metal"),))
    plan = build_plan(wanted, State.of("prod", [applied(consumer("sync-creds"))]))
    assert "api_key.sync" not in actions(plan) and "api_key.sync" not in plan.live_fingerprints


def test_bind_state_leaves_values_without_slots_alone() -> None:
    plain = desired("config_vault", "plain", {"provider": "metal", "value": {"k": "v"}})
    bound = bind_state(State.of("prod", [plain, consumer("sync-creds"), consumer("sync-creds-2")]), {"sync": "ci_one"})
    assert bound.get(plain.address) == plain
    sync = bound.get(VAULT)
    assert sync is not None and sync.secret is not None and sync.secret.reveal()["api_key"] == "key:sync@ci_one.secret"
    pending = bind_state(State.of("prod", [consumer("sync-creds")]), {})
    assert pending.get(VAULT).secret.reveal()["api_key"] == f"key:sync@{PENDING}.secret"  # type: ignore[union-attr]



def test_a_target_may_name_an_api_key_and_brings_the_consumers_that_move_off_it() -> None:
    targeted = build_plan(*states(), rotate=("sync",), targets=["api_key.sync"])
    assert actions(targeted) == {"api_key.sync": Action.ROTATE, str(VAULT): Action.REPLACE,
                                 str(OTHER): Action.REPLACE}


def test_a_saved_plan_whose_keys_are_all_kept_is_rebuilt_whole() -> None:
    """api keys are no resources: left out of "everything", such a plan was rebuilt as a --target
    plan without its kept keys, and `apply plan.json` refused it as not matching."""
    wanted, have = states()
    assert saved_targets(planned(), wanted, have) == ()
