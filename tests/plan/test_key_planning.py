"""Pure key planning: ownership by name, lost secrets, rotation by age and by request, the Metlo limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metorial_apply.core.errors import PlanError
from metorial_apply.core.keys import DesiredKey, LiveKey, key_name, parse_key_name
from metorial_apply.core.model import Address
from metorial_apply.planning.keys import KeyInputs, held_identities, plan_keys

DAY = 86400.0
NOW = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
VAULT = Address(kind="config_vault", name="ingest-creds")


def live(name: str, identity: str, *, backend: str = "metlo", age_days: float = 1, key_for: str | None = "GENERIC"
         ) -> LiveKey:
    born = datetime.fromtimestamp(NOW - age_days * DAY, UTC).isoformat().replace("+00:00", "Z")
    return LiveKey(backend=backend, name=name, identity=identity, id=name, created=born, key_for=key_for)


def desired(name: str = "ingest", **kw: object) -> DesiredKey:
    return DesiredKey(name=name, backend=str(kw.pop("backend", "metlo")), consumers=(VAULT,), **kw)  # type: ignore[arg-type]


def inputs(keys: list[DesiredKey], live_keys: list[LiveKey], held: dict[str, frozenset[str]] | None = None,
           **kw: object) -> KeyInputs:
    return KeyInputs(stack="prod", desired=tuple(keys), live=tuple(live_keys),
                     backend_types={"metlo": "metlo", "metal": "metal"}, held=held or {}, now=NOW, **kw)  # type: ignore[arg-type]


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
    change = plan_keys(inputs([desired()], [live("emulator-admin", "metlo.admin")])).of("ingest")
    assert change is not None and (change.action, change.create) == ("create", "prod~ingest~1")


def test_a_held_key_is_kept_and_keys_not_ours_are_never_touched() -> None:
    keys = [live("prod~ingest~3", "metlo.a"), live("prod.eu~ingest~3", "metlo.b"), live("ingest", "metlo.c")]
    plan = plan_keys(inputs([desired()], keys, {"ingest": frozenset({"metlo.a"})}))
    assert [(c.address.name, c.action) for c in plan.changes] == [("ingest", "noop")]
    assert plan.changes[0].keep == keys[0]


def test_a_key_of_ours_that_no_consumer_holds_lost_its_secret() -> None:
    orphan = live("prod~ingest~1", "metlo.orphan")
    change = plan_keys(inputs([desired()], [orphan])).of("ingest")
    assert change is not None
    assert (change.action, change.purge, change.create) == ("replace", (orphan,), "prod~ingest~2")


def test_a_stray_beside_the_held_key_is_deleted_and_the_held_key_kept() -> None:
    held, stray = live("prod~ingest~1", "metlo.a"), live("prod~ingest~2", "metlo.b")
    change = plan_keys(inputs([desired()], [held, stray], {"ingest": frozenset({"metlo.a"})})).of("ingest")
    assert change is not None and (change.action, change.keep, change.purge, change.create) == (
        "delete", held, (stray,), None)


def test_a_key_without_consumers_is_held_by_its_name() -> None:
    key = live("prod~ingest~1", "metlo.a")
    change = plan_keys(inputs([DesiredKey(name="ingest", backend="metlo")], [key])).of("ingest")
    assert change is not None and change.action == "noop"


def test_a_key_gone_from_the_configuration_is_deleted() -> None:
    keys = [live("prod~old~1", "metlo.a"), live("prod~old~2", "metlo.b"), live("staging~old~1", "metlo.c")]
    plan = plan_keys(inputs([], keys))
    assert [(c.address.name, c.action, c.purge) for c in plan.changes] == [("old", "delete", tuple(keys[:2]))]


def test_a_changed_key_for_is_a_replace() -> None:
    key = live("prod~ingest~1", "metlo.a", key_for="GENERIC")
    change = plan_keys(inputs([desired(key_for="AWS")], [key], {"ingest": frozenset({"metlo.a"})})).of("ingest")
    assert change is not None and (change.action, change.create, change.retire) == ("replace", "prod~ingest~2", (key,))
    same = plan_keys(inputs([desired(key_for="GENERIC")], [key], {"ingest": frozenset({"metlo.a"})})).of("ingest")
    assert same is not None and same.action == "noop"


@pytest.mark.parametrize(("age_days", "action"), [(89.9, "noop"), (90, "rotate"), (400, "rotate")])
def test_rotate_after_compares_with_the_clock_passed_in(age_days: float, action: str) -> None:
    key = live("prod~ingest~4", "metlo.a", age_days=age_days)
    change = plan_keys(inputs([desired(rotate_after_s=90 * 86400)], [key], {"ingest": frozenset({"metlo.a"})})
                       ).of("ingest")
    assert change is not None and change.action == action
    if action == "rotate":
        assert (change.create, change.retire) == ("prod~ingest~5", (key,))


def test_rotate_on_request_and_an_unknown_rotate_name() -> None:
    key = live("prod~ingest~1", "metlo.a")
    held = {"ingest": frozenset({"metlo.a"})}
    change = plan_keys(inputs([desired()], [key], held, rotate=frozenset({"ingest"}))).of("ingest")
    assert change is not None and (change.action, change.reason) == ("rotate", "rotation requested (--rotate)")
    with pytest.raises(PlanError, match=r'--rotate api_key.ingset: no such key.*did you mean "api_key.ingest"'):
        plan_keys(inputs([desired()], [key], held, rotate=frozenset({"ingset"})))


def test_an_interrupted_rotation_retires_the_older_generation_still_held() -> None:
    old, new = live("prod~ingest~1", "metlo.a"), live("prod~ingest~2", "metlo.b")
    change = plan_keys(inputs([desired()], [old, new], {"ingest": frozenset({"metlo.a", "metlo.b"})})).of("ingest")
    assert change is not None and (change.action, change.keep, change.retire) == ("delete", new, (old,))


def test_the_metlo_limit_counts_keys_not_ours() -> None:
    foreign = [live(f"other-{i}", f"metlo.f{i}") for i in range(49)]
    assert plan_keys(inputs([desired()], foreign)).of("ingest") is not None  # 49 + 1 = 50
    with pytest.raises(PlanError, match=r"needs 51 keys at once \(50 not ours\) — Maximum API Key Limit Reached: 50"):
        plan_keys(inputs([desired()], [*foreign, live("other-49", "metlo.f49")]))
    # Metal has no documented limit
    metal = [live(f"o{i}", f"ci_{i}", backend="metal", key_for=None) for i in range(200)]
    assert plan_keys(inputs([desired(backend="metal")], metal)).of("ingest") is not None


def test_a_lost_secret_purge_makes_room_under_the_limit() -> None:
    foreign = [live(f"other-{i}", f"metlo.f{i}") for i in range(49)]
    change = plan_keys(inputs([desired()], [*foreign, live("prod~ingest~1", "metlo.o")])).of("ingest")
    assert change is not None and change.action == "replace"


def test_a_changed_backend_replaces_the_key() -> None:
    key = live("prod~ingest~1", "metlo.a")
    change = plan_keys(inputs([desired(backend="metal")], [key], {"ingest": frozenset({"metlo.a"})})).of("ingest")
    assert change is not None and (change.action, change.backend, change.retire) == ("replace", "metal", (key,))


def test_held_identities_gathers_every_consumer_record() -> None:
    records = {VAULT: {"ingest": "metlo.a"}, Address(kind="config", name="c"): {"ingest": "metlo.b", "sync": "ci_1"}}
    assert held_identities(records) == {"ingest": frozenset({"metlo.a", "metlo.b"}), "sync": frozenset({"ci_1"})}
