"""Pure key planning: ownership by name, lost secrets, rotation by age and by request, the Metlo limit.
Each key is one Change of the plan: what it creates (the next generation), keeps, and the earlier
generations its delete step removes (`old`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metorial_apply.core.errors import PlanError
from metorial_apply.core.keys import DesiredKey, LiveKey, key_address, key_name, parse_key_name
from metorial_apply.core.model import Address, Resource, Stamp
from metorial_apply.core.state import State
from metorial_apply.planning.change import Change
from metorial_apply.planning.keys import NEW_GENERATION, KeyInputs, key_inputs, plan_keys

DAY = 86400.0
NOW = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
VAULT = Address(kind="config_vault", name="ingest-creds")


def live(name: str, identity: str, *, backend: str = "metlo", age_days: float = 1, key_for: str | None = "GENERIC"
         ) -> LiveKey:
    born = datetime.fromtimestamp(NOW - age_days * DAY, UTC).isoformat().replace("+00:00", "Z")
    return LiveKey(backend=backend, name=name, identity=identity, id=name, created=born, key_for=key_for)


def desired(name: str = "ingest", **kw: object) -> DesiredKey:
    return DesiredKey(name=name, backend=str(kw.pop("backend", "metlo")), **kw)  # type: ignore[arg-type]


def inputs(keys: list[DesiredKey], live_keys: list[LiveKey], held: dict[str, frozenset[str]] | None = None,
           **kw: object) -> KeyInputs:
    """Every desired key consumed (by VAULT) unless `consumed` says otherwise."""
    kw.setdefault("consumed", frozenset(k.name for k in keys))
    return KeyInputs(stack="prod", desired=tuple(keys), live=tuple(live_keys),
                     types={"metlo": "metlo", "metal": "metal"}, held=held or {}, now=NOW, **kw)  # type: ignore[arg-type]


def of(planned: dict[Address, Change], name: str = "ingest") -> Change:
    return planned[key_address(name)]


def created(change: Change) -> str | None:
    """The generation the change creates."""
    return change.desired.spec["name"] if change.desired and change.action in NEW_GENERATION else None


def kept(change: Change) -> str | None:
    """The generation that stays."""
    return change.desired.spec["name"] if change.desired and change.action not in NEW_GENERATION else None


def old(change: Change) -> tuple[str, ...]:
    """The generations its delete step removes."""
    return tuple(r.spec["name"] for r in change.old)


STACKS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)
NAMES = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(STACKS, STACKS, NAMES, st.integers(1, 10**6))
def test_a_key_name_parses_only_for_its_own_stack(ours: str, other: str, name: str, generation: int) -> None:
    text = key_name(other, name, generation)
    parsed = parse_key_name(text, ours)
    if ours == other:
        assert parsed is not None and (parsed.name, parsed.generation, str(parsed)) == (name, generation, text)
    else:
        assert parsed is None


def test_prod_never_claims_prod_eu_keys_and_odd_names_are_foreign() -> None:
    assert parse_key_name("prod.eu~ingest~1", "prod") is None
    assert parse_key_name("prod~ingest~1", "prod.eu") is None
    for text in ("prod~ingest~01", "prod~ingest~0", "prod~ingest", "prod~in~gest~1", "prod~.x~1", "prod~ingest~x"):
        assert parse_key_name(text, "prod") is None, text


def test_a_missing_key_is_created_as_generation_one() -> None:
    change = of(plan_keys(inputs([desired()], [live("emulator-admin", "metlo.admin")])))
    assert (change.action.value, created(change), old(change)) == ("create", "prod~ingest~1", ())
    assert change.after == {"backend": "metlo", "name": "prod~ingest~1"} and change.before is None


def test_a_held_key_is_kept_and_keys_not_ours_are_never_touched() -> None:
    keys = [live("prod~ingest~3", "metlo.a"), live("prod.eu~ingest~3", "metlo.b"), live("ingest", "metlo.c")]
    planned = plan_keys(inputs([desired()], keys, {"ingest": frozenset({"metlo.a"})}))
    assert [(a.name, c.action.value) for a, c in planned.items()] == [("ingest", "noop")]
    change = of(planned)
    assert kept(change) == "prod~ingest~3" and change.desired is not None
    assert change.desired.spec["identity"] == "metlo.a" and old(change) == ()


def test_a_key_of_ours_that_no_consumer_holds_lost_its_secret() -> None:
    change = of(plan_keys(inputs([desired()], [live("prod~ingest~1", "metlo.orphan")])))
    assert (change.action.value, old(change), created(change)) == ("replace", ("prod~ingest~1",), "prod~ingest~2")
    assert change.replace_mode == "delete_first"  # nothing holds it: deleted before the new one is made


def test_a_stray_beside_the_held_key_is_deleted_and_the_held_key_kept() -> None:
    held, stray = live("prod~ingest~1", "metlo.a"), live("prod~ingest~2", "metlo.b")
    change = of(plan_keys(inputs([desired()], [held, stray], {"ingest": frozenset({"metlo.a"})})))
    assert (change.action.value, kept(change), old(change), created(change)) == (
        "delete", "prod~ingest~1", ("prod~ingest~2",), None)


def test_a_key_without_consumers_is_held_by_its_name() -> None:
    key = live("prod~ingest~1", "metlo.a")
    assert of(plan_keys(inputs([DesiredKey(name="ingest", backend="metlo")], [key], consumed=frozenset()))
              ).action.value == "noop"
    assert of(plan_keys(inputs([DesiredKey(name="ingest", backend="metlo")], [key]))).action.value == "replace"


def test_a_key_gone_from_the_configuration_is_deleted() -> None:
    keys = [live("prod~old~1", "metlo.a"), live("prod~old~2", "metlo.b"), live("staging~old~1", "metlo.c")]
    planned = plan_keys(inputs([], keys))
    assert [(a.name, c.action.value, old(c)) for a, c in planned.items()] == [
        ("old", "delete", ("prod~old~1", "prod~old~2"))]
    assert of(planned, "old").desired is None and of(planned, "old").after is None


def test_a_changed_key_for_is_a_replace() -> None:
    key = live("prod~ingest~1", "metlo.a", key_for="GENERIC")
    change = of(plan_keys(inputs([desired(key_for="AWS")], [key], {"ingest": frozenset({"metlo.a"})})))
    assert (change.action.value, created(change), old(change)) == ("replace", "prod~ingest~2", ("prod~ingest~1",))
    assert change.replace_mode is None  # a consumer holds the old one: created first, old deleted after it moved
    same = of(plan_keys(inputs([desired(key_for="GENERIC")], [key], {"ingest": frozenset({"metlo.a"})})))
    assert same.action.value == "noop"


@pytest.mark.parametrize(("age_days", "action"), [(89.9, "noop"), (90, "rotate"), (400, "rotate")])
def test_rotate_after_compares_with_the_clock_passed_in(age_days: float, action: str) -> None:
    key = live("prod~ingest~4", "metlo.a", age_days=age_days)
    change = of(plan_keys(inputs([desired(rotate_after_s=90 * 86400)], [key], {"ingest": frozenset({"metlo.a"})})))
    assert change.action.value == action
    if action == "rotate":
        assert (created(change), old(change)) == ("prod~ingest~5", ("prod~ingest~4",))


def test_rotate_on_request_and_an_unknown_rotate_name() -> None:
    key = live("prod~ingest~1", "metlo.a")
    held = {"ingest": frozenset({"metlo.a"})}
    change = of(plan_keys(inputs([desired()], [key], held, rotate=frozenset({"ingest"}))))
    assert (change.action.value, change.reason) == ("rotate", "rotation requested (--rotate)")
    with pytest.raises(PlanError, match=r'--rotate api_key.ingset: no such key.*did you mean "api_key.ingest"'):
        plan_keys(inputs([desired()], [key], held, rotate=frozenset({"ingset"})))


def test_an_interrupted_rotation_retires_the_older_generation_still_held() -> None:
    older, newer = live("prod~ingest~1", "metlo.a"), live("prod~ingest~2", "metlo.b")
    change = of(plan_keys(inputs([desired()], [older, newer], {"ingest": frozenset({"metlo.a", "metlo.b"})})))
    assert (change.action.value, kept(change), old(change)) == ("delete", "prod~ingest~2", ("prod~ingest~1",))


def test_the_metlo_limit_counts_keys_not_ours() -> None:
    foreign = [live(f"other-{i}", f"metlo.f{i}") for i in range(49)]
    assert of(plan_keys(inputs([desired()], foreign))) is not None  # 49 + 1 = 50
    with pytest.raises(PlanError, match=r"needs 51 keys at once \(50 not ours\) — Maximum API Key Limit Reached: 50"):
        plan_keys(inputs([desired()], [*foreign, live("other-49", "metlo.f49")]))
    # Metal has no documented limit
    metal = [live(f"o{i}", f"ci_{i}", backend="metal", key_for=None) for i in range(200)]
    assert of(plan_keys(inputs([desired(backend="metal")], metal))) is not None


def test_a_lost_secret_purge_makes_room_under_the_limit() -> None:
    foreign = [live(f"other-{i}", f"metlo.f{i}") for i in range(49)]
    assert of(plan_keys(inputs([desired()], [*foreign, live("prod~ingest~1", "metlo.o")]))).action.value == "replace"


def test_a_changed_backend_replaces_the_key() -> None:
    key = live("prod~ingest~1", "metlo.a")
    change = of(plan_keys(inputs([desired(backend="metal")], [key], {"ingest": frozenset({"metlo.a"})})))
    assert (change.action.value, change.after, old(change)) == (
        "replace", {"backend": "metal", "name": "prod~ingest~2"}, ("prod~ingest~1",))


def test_key_inputs_gathers_every_consumer_record_of_the_live_state() -> None:
    def stamped(kind: str, name: str, keys: str) -> Resource:
        stamp = Stamp(stack="prod", address=f"{kind}.{name}", spec_hash="sha256:x", keys=keys)
        return Resource(address=Address(kind=kind, name=name), spec={}, id=name, stamp=stamp)

    live_state = State.of("prod", [stamped("config_vault", "v", "ingest=metlo.a"),
                                   stamped("config", "c", "ingest=metlo.b,sync=ci_1")])
    got = key_inputs(State.of("prod", []), live_state)
    assert got.held == {"ingest": frozenset({"metlo.a", "metlo.b"}), "sync": frozenset({"ci_1"})}
