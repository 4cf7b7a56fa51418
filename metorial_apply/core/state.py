"""State: an immutable set of resources keyed by address, the same type for desired and live."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import ConfigDict, Field

from metorial_apply.core.directives import Directives
from metorial_apply.core.keys import DesiredKey, KeyBackend, LiveKey
from metorial_apply.core.kinds import sort_key
from metorial_apply.core.model import Address, Frozen, Resource


class State(Frozen):
    """Resources of one stack. `resources` is sorted by (kind order, name) and unique by address."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    stack: str
    resources: tuple[Resource, ...] = ()
    directives: Directives = Directives()  # desired only: imports, moved, removed
    # Desired only: `api_keys:` (sorted by name, each naming its consumers) and `key_backends:`.
    api_keys: tuple[DesiredKey, ...] = ()
    key_backends: tuple[KeyBackend, ...] = ()
    # Live only: every key the configured backends list, ours or not (they count towards a
    # backend's limit); None when no key backend was read.
    keys: tuple[LiveKey, ...] | None = None
    # Live only: key backends whose keys in `keys` are the stack index's record of ours, not a
    # listing (plan without their credentials): their foreign keys are unknown.
    unread_backends: frozenset[str] = frozenset()
    # Live only: id of one of our objects → ids of the objects bound to it that cannot move
    # (KindSpec.bound_by), for every such object the live read saw.
    bound: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # Live only: id of one of our auth configs → ids of session templates not ours with an active
    # provider using it: deleting the auth config archives those providers (emulator/choices.py, Cascades).
    template_users: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @classmethod
    def of(cls, stack: str, resources: list[Resource] | tuple[Resource, ...],
           directives: Directives | None = None, *, api_keys: tuple[DesiredKey, ...] = (),
           key_backends: tuple[KeyBackend, ...] = (), keys: tuple[LiveKey, ...] | None = None) -> State:
        ordered = sorted(resources, key=lambda r: sort_key(r.address))
        seen: set[Address] = set()
        for r in ordered:
            if r.address in seen:
                raise ValueError(f"duplicate address in state: {r.address}")
            seen.add(r.address)
        return cls(stack=stack, resources=tuple(ordered), directives=directives or Directives(),
                   api_keys=tuple(sorted(api_keys, key=lambda k: k.name)),
                   key_backends=tuple(sorted(key_backends, key=lambda b: b.name)), keys=keys)

    def with_resources(self, resources: list[Resource] | tuple[Resource, ...]) -> State:
        """The same stack, directives, keys, backends and bindings around other resources."""
        return self.model_copy(update={"resources": State.of(self.stack, resources).resources})

    def by_address(self) -> dict[Address, Resource]:
        return {r.address: r for r in self.resources}

    def get(self, address: Address) -> Resource | None:
        return self.by_address().get(address)

    def __iter__(self) -> Iterator[Resource]:  # type: ignore[override]
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)
