"""The run-wide id map: address → server id, seeded from live state and filled by creates.

It implements `kinds.Ids`, so per-kind `to_api` functions turn the names in a canonical spec
into the ids the API wants, including ids created earlier in the same run.
"""

from __future__ import annotations

from metorial_apply.core.errors import MetorialApplyError
from metorial_apply.core.model import Address, Catalog
from metorial_apply.planning.plan import Plan


class MissingIdError(MetorialApplyError):
    """A change references a resource that has no id yet (it was never created)."""


class IdMap:
    """Ids of our resources by address, plus catalog lookups for providers, methods, versions."""

    def __init__(self, catalog: Catalog | None = None, ids: dict[Address, str] | None = None) -> None:
        self.catalog = catalog or Catalog()
        self.ids: dict[Address, str] = dict(ids or {})
        self.replaced: set[Address] = set()  # addresses whose id changed in this run

    @classmethod
    def from_plan(cls, plan: Plan, catalog: Catalog | None = None) -> IdMap:
        """Seed with every live id the plan read (noops included: others may reference them)."""
        ids = {c.address: c.live.id for c in plan.changes if c.live is not None and c.live.id}
        ids |= {c.address: c.id for c in plan.changes if c.id and c.address not in ids}
        return cls(catalog, ids)

    def record(self, address: Address, id: str, *, replaced: bool = False) -> None:
        self.ids[address] = id
        if replaced:
            self.replaced.add(address)

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
