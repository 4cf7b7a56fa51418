"""The run-wide maps of what exists: address → server id (IdMap), and api key → the generation
its consumers hold (KeyRing), each seeded from the plan and filled by creates.

IdMap implements `kinds.Ids`, so per-kind `to_api` functions turn the names in a canonical spec
into the ids the API wants, including ids created earlier in the same run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metorial_apply.apply.calls import KeyApi
from metorial_apply.apply.secrets_out import SecretsOut
from metorial_apply.core.errors import ApiError, MetorialApplyError
from metorial_apply.core.keys import (
    CreatedKey,
    bind,
    fill,
    keys_in,
)
from metorial_apply.core.kinds import KEY_BACKEND, KINDS, live_key
from metorial_apply.core.model import Address, Catalog, Resource, SecretValue, held_text
from metorial_apply.planning.plan import Plan


class MissingIdError(MetorialApplyError):
    """A change references a resource that has no id yet (it was never created)."""


class IdMap:
    """Ids of our resources by address, plus catalog lookups for providers, methods, versions."""

    def __init__(self, catalog: Catalog | None = None, ids: dict[Address, str] | None = None) -> None:
        self.catalog = catalog or Catalog()
        self.ids: dict[Address, str] = dict(ids or {})
        self.replaced: set[Address] = set()  # addresses whose id changed in this run
        self.names: dict[tuple[str, str], str] = {(a.kind, i): a.name for a, i in self.ids.items()}
        self.slugs = {p.id: p.slug for p in self.catalog.providers}

    @classmethod
    def from_plan(cls, plan: Plan, catalog: Catalog | None = None) -> IdMap:
        """Seed with every live id the plan read (noops included: others may reference them)."""
        ids = {c.address: c.live.id for c in plan.changes if c.live is not None and c.live.id}
        ids |= {c.address: c.id for c in plan.changes if c.id and c.address not in ids}
        return cls(catalog, ids)

    def record(self, address: Address, id: str, *, replaced: bool = False) -> None:
        self.ids[address] = id
        self.names[(address.kind, id)] = address.name
        if replaced:
            self.replaced.add(address)

    def name_of(self, kind: str, id: str) -> str:
        """`kinds.Names`: the name of our resource with that id (an API answer read back), else the id."""
        return self.names.get((kind, id), id)

    def provider_slug(self, provider_id: str) -> str:
        return self.slugs.get(provider_id, provider_id)

    def id_of(self, address: Address) -> str:
        try:
            return self.ids[address]
        except KeyError:
            raise MissingIdError(f"{address} has no id: it does not exist yet") from None

    def provider_id(self, provider: str) -> str:
        # The API also accepts a slug or identifier, so an unknown name is passed through.
        found = self.catalog.find(provider)
        return found.id if found else provider

    def method_id(self, provider: str, method: str) -> str:
        found = self.catalog.find(provider)
        return found.auth_methods.get(method, method) if found else method

    def version_id(self, provider: str, version: str) -> str:
        found = self.catalog.find(provider)
        return found.versions.get(version, version) if found else version


@dataclass
class KeyRing:
    """The run-wide map of api keys: the backends' clients, the identity of the generation each
    key's consumers hold (seeded from the plan's kept keys, filled by key creates), and the
    one-time secrets this run created, held in memory only and written nowhere but consumers'
    create bodies and `--secrets-out`."""

    clients: Mapping[str, KeyApi] = field(default_factory=dict)
    types: Mapping[str, str] = field(default_factory=dict)  # backend → metlo/metal
    secrets_out: SecretsOut | None = None
    unconsumed: frozenset[str] = frozenset()  # keys whose secret goes to --secrets-out
    identities: dict[str, str] = field(default_factory=dict)
    parts: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    gone: set[str] = field(default_factory=set)  # full names of the generations deleted (or found gone)

    def seeded(self, plan: Plan) -> KeyRing:
        """This ring with the identities of the keys the plan keeps."""
        for c in plan.changes:
            if KINDS[c.address.kind].api == KEY_BACKEND and c.desired is not None and c.desired.spec.get("identity"):
                self.identities[c.address.name] = c.desired.spec["identity"]
        return self

    def client(self, backend: str) -> KeyApi:
        if backend not in self.clients:
            raise MetorialApplyError(f"key backend {backend} was not read in this run")
        return self.clients[backend]

    def record(self, name: str, made: CreatedKey) -> None:
        """A key generation just created: its identity and secret, and its --secrets-out lines."""
        self.identities[name], self.parts[name] = made.key.identity, made.parts()
        if self.secrets_out is not None and name in self.unconsumed:
            self.secrets_out.add(name, self.types.get(made.key.backend, "metlo"), made)

    def bindable(self, resource: Resource) -> bool:
        return keys_in(resource.secret) <= self.identities.keys()

    def bound(self, resource: Resource) -> tuple[Resource, str]:
        """A consumer's value bound to the identities it holds (its stamp's input), and the
        record of those generations."""
        assert resource.secret is not None
        held = {name: self._known(self.identities, name, resource) for name in keys_in(resource.secret)}
        return resource.model_copy(update={"secret": bind(resource.secret, held)}), held_text(held)

    def filled(self, resource: Resource) -> SecretValue:
        """A consumer's value with the secrets of the generations this run created."""
        assert resource.secret is not None
        for name in sorted(keys_in(resource.secret)):
            self._known(self.parts, name, resource)
        return fill(resource.secret, self.parts)

    @staticmethod
    def _known(table: Mapping[str, Any], name: str, resource: Resource) -> Any:
        if name not in table:
            raise MetorialApplyError(f"{resource.address}: the secret of api_key.{name} is not at hand "
                                     "(no generation of it was created in this run)")
        return table[name]

    async def delete(self, old: tuple[Resource, ...]) -> tuple[str | None, str]:
        """Delete each earlier generation; (last identity, note); the first failure is raised
        after every other was tried."""
        notes, failed = [], None
        for resource in old:
            key = live_key(resource)
            try:
                gone = await self.client(key.backend).delete_key(key)
            except ApiError as exc:
                failed = failed or exc
                continue
            self.gone.add(key.name)
            notes.append(f"{key.name} {'deleted' if gone else 'already gone'}")
        if failed is not None:
            raise failed
        return (live_key(old[-1]).identity if old else None), "; ".join(notes)
