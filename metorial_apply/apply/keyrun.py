"""A key plan's API work around the resource apply: before it, keys whose secret was lost are
deleted and new generations created (their one-time secrets kept in memory, for the consumers'
create bodies); after it, the generations consumers held before are deleted, so no consumer is
ever without a working key.

A create whose answer was lost cannot be adopted (the secret was in that answer): the key is
found by name, deleted, and created once more.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from metorial_apply.apply.report import ChangeResult
from metorial_apply.apply.schedule import Outcome
from metorial_apply.apply.secrets_out import SecretsOut
from metorial_apply.core.errors import ApiError, OutcomeUnknownError
from metorial_apply.core.keys import CreatedKey, LiveKey
from metorial_apply.core.model import Address
from metorial_apply.planning.keys import KeyChange, KeyPlan


class KeyApi(Protocol):
    async def list_keys(self) -> list[LiveKey]: ...

    async def create_key(self, name: str, key_for: str | None = None) -> CreatedKey: ...

    async def delete_key(self, key: LiveKey) -> bool: ...


class KeySink(Protocol):
    def change_started(self, address: Address, action: str) -> None: ...

    def change_finished(self, result: ChangeResult) -> None: ...


@dataclass
class KeyRunner:
    """Runs the key steps; `created` holds the new generations' secrets for the consumers."""

    clients: Mapping[str, KeyApi]
    journal: KeySink | None = None
    secrets_out: SecretsOut | None = None
    unconsumed: frozenset[str] = frozenset()  # keys whose secret goes to --secrets-out
    backend_types: Mapping[str, str] = field(default_factory=dict)
    created: dict[str, CreatedKey] = field(default_factory=dict, repr=False)
    results: list[ChangeResult] = field(default_factory=list)

    def parts(self) -> dict[str, dict[str, str]]:
        """Key name → what `${key.NAME.PART}` stands for, for every key created in this run."""
        return {name: made.parts() for name, made in self.created.items()}

    async def before(self, plan: KeyPlan) -> bool:
        """Delete lost-secret keys of kept names, then create every new generation; False on the
        first failure (then nothing that needs a key should run)."""
        for change in plan.changes:
            if change.action == "delete" and change.keep is None:
                continue  # a key gone from the configuration: after its consumers are gone
            if not await self._delete(change, change.purge, "its secret was lost"):
                return False
            if change.create and not await self._create(change):
                return False
        return True

    async def after(self, plan: KeyPlan, held_back: Iterable[str] = ()) -> bool:
        """Delete the generations consumers moved off, and keys gone from the configuration;
        keys in `held_back` (a consumer of theirs failed) keep their old generation."""
        keep = set(held_back)
        ok = True
        for change in plan.changes:
            if change.address.name in keep:
                continue
            removed = change.purge if change.action == "delete" and change.keep is None else ()
            ok = await self._delete(change, (*change.retire, *removed), "replaced by a new generation") and ok
        return ok

    async def _create(self, change: KeyChange) -> bool:
        assert change.create is not None
        client, started, note = self.clients[change.backend], time.monotonic(), ""
        self._started(change.address, "create")
        try:
            try:
                made = await client.create_key(change.create, change.key_for)
            except OutcomeUnknownError:
                orphans = [k for k in await client.list_keys() if k.name == change.create]
                for orphan in orphans:
                    await client.delete_key(orphan)
                made = await client.create_key(change.create, change.key_for)
                note = f"create answer lost: {len(orphans)} key(s) of that name deleted, created again"
            self.created[change.address.name] = made
            if self.secrets_out is not None and change.address.name in self.unconsumed:
                self.secrets_out.add(change.address.name, self.backend_types.get(change.backend, "metlo"), made)
        except ApiError as exc:
            return self._finished(change.address, "create", started, error=str(exc))
        return self._finished(change.address, "create", started, id=made.key.identity, note=note or change.create)

    async def _delete(self, change: KeyChange, keys: Iterable[LiveKey], why: str) -> bool:
        ok = True
        for key in keys:
            started = time.monotonic()
            self._started(change.address, "delete")
            try:
                gone = await self.clients[key.backend].delete_key(key)
            except ApiError as exc:
                ok = self._finished(change.address, "delete", started, error=str(exc)) and ok
                continue
            note = f"{key.name}: {why}" + ("" if gone else " (already gone)")
            self._finished(change.address, "delete", started, id=key.identity, note=note)
        return ok

    def _started(self, address: Address, action: str) -> None:
        if self.journal is not None:
            self.journal.change_started(address, action)

    def _finished(self, address: Address, action: str, started: float, *, id: str | None = None,
                  note: str = "", error: str | None = None) -> bool:
        result = ChangeResult(address=address, action=action, outcome=Outcome.FAILED if error else Outcome.DONE,
                              id=id, note=note, error=error, duration_s=time.monotonic() - started)
        self.results.append(result)
        if self.journal is not None:
            self.journal.change_finished(result)
        return error is None
