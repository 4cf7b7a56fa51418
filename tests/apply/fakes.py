"""An in-memory fake of the client slice the applier uses, and helpers to build plans by hand."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

from metorial_apply.core.errors import ApiCall, BadRequestError, GoneError, NotFoundError, OutcomeUnknownError
from metorial_apply.core.kinds import KINDS
from metorial_apply.core.model import Address, Resource, SecretValue, Stamp
from metorial_apply.planning.graph import edges
from metorial_apply.planning.plan import Action, Change, Plan

PROVIDER_PATHS = ("/provider-deployments", "/provider-configs", "/provider-config-vaults")
PREFIX = {"/provider-deployments": "pde", "/provider-configs": "pcf", "/provider-auth-configs": "pac",
          "/session-templates": "set", "/session-template-providers": "stp", "/provider-config-vaults": "pcvt"}


@dataclass
class Call:
    method: str
    path: str
    id: str | None
    body: dict[str, Any] | None
    kind: str | None
    name: str | None


@dataclass
class FakeApi:
    """Objects by path; records every call; injectable faults by (method, name)."""

    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    reject: dict[tuple[str, str], str] = field(default_factory=dict)  # (method, name) → API message
    lose: dict[tuple[str, str], str] = field(default_factory=dict)  # (method, name) → "commit" | "drop"
    list_failures: int = 0  # the next N list calls fail with a 5xx
    # path → body fields a PATCH answers 200 to but does not apply (a server that drops them)
    ignore_on_patch: dict[str, tuple[str, ...]] = field(default_factory=dict)
    delay: float = 0.0
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    in_flight: int = 0
    peak: int = 0

    def seed(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        if path in PROVIDER_PATHS:  # every object of these kinds names its provider
            obj.setdefault("provider_id", "github")
        self.objects.setdefault(path, {})[obj["id"]] = obj
        return obj

    def active(self, path: str) -> list[dict[str, Any]]:
        return [o for o in self.objects.get(path, {}).values() if o["status"] == "active"]

    async def _enter(self, call: Call) -> None:
        self.calls.append(call)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(self.delay)
        self.in_flight -= 1
        message = self.reject.get((call.method, call.name or ""))
        if message:
            raise BadRequestError(
                ApiCall(call.method, call.path, call.kind, call.name, "req_fake"), 400, "invalid_data", message
            )

    async def list_all(
        self, path: str, params: dict[str, Any] | None = None, *, kind: str | None = None
    ) -> list[dict[str, Any]]:
        await self._enter(Call("GET", path, None, None, kind, None))
        if self.list_failures:
            self.list_failures -= 1
            from metorial_apply.core.errors import ServerError
            raise ServerError(ApiCall("GET", path, kind), 503, "unavailable", "try later")
        items = self.active(path)
        for key, value in (params or {}).items():
            items = [o for o in items if o.get(key) == value]
        return items

    async def create(
        self, path: str, body: dict[str, Any], *, kind: str, name: str, stamp: dict[str, str]
    ) -> dict[str, Any]:
        await self._enter(Call("POST", path, None, dict(body), kind, name))
        fault = self.lose.pop(("POST", name), None)
        obj = {
            "id": f"{PREFIX[path]}_{next(self.counter)}",
            "status": "active",
            "created_at": f"t{next(self.counter):06d}",
        }
        obj |= {k: v for k, v in body.items() if k not in ("value",)}
        if fault != "drop":
            self.seed(path, obj)
        if fault:
            raise OutcomeUnknownError(ApiCall("POST", path, kind, name), None, "timeout", "no response", stamp=stamp)
        return answer(obj)

    async def update(self, path: str, id: str, body: dict[str, Any], *, kind: str, name: str) -> dict[str, Any]:
        await self._enter(Call("PATCH", path, id, dict(body), kind, name))
        obj = self._get(path, id, "PATCH")
        obj.update({k: v for k, v in body.items() if k not in self.ignore_on_patch.get(path, ())})
        return answer(obj)

    async def delete(self, path: str, id: str, *, kind: str, name: str) -> dict[str, Any]:
        await self._enter(Call("DELETE", path, id, None, kind, name))
        obj = self._get(path, id, "DELETE")
        obj["status"] = "archived"
        return obj

    def _get(self, path: str, id: str, method: str) -> dict[str, Any]:
        obj = self.objects.get(path, {}).get(id)
        if obj is None:
            raise NotFoundError(ApiCall(method, f"{path}/{id}"), 404, "not_found", "not found")
        if obj["status"] != "active":
            raise GoneError(ApiCall(method, f"{path}/{id}"), 410, "gone", "archived")
        return obj

    def index(self, method: str, name: str, path: str | None = None) -> int:
        for i, c in enumerate(self.calls):
            if c.method == method and c.name == name and (path is None or c.path == path):
                return i
        raise AssertionError(f"no {method} for {name}: {[(c.method, c.name) for c in self.calls]}")


# The API's answer names a referenced object `{"id": …}` under its own name, and tool filters as
# `tool_filter` (see the contract); stored objects keep the request's shape the tests assert on.
ANSWER_REFS = {"provider_deployment_id": "deployment", "provider_config_id": "config",
               "provider_auth_config_id": "auth_config", "provider_config_vault_id": "from_vault"}


def answer(obj: dict[str, Any]) -> dict[str, Any]:
    """A stored object as the API answers it."""
    out = dict(obj)
    filters = out.get("tool_filters")
    out["tool_filter"] = {"type": "filter", "filters": filters} if filters else None
    out |= {name: ({"id": out[key]} if out[key] else None) for key, name in ANSWER_REFS.items() if key in out}
    if "locked_provider_version_id" in out:
        version = out["locked_provider_version_id"]
        out["locked_version"] = {"version": version} if version else None
    if "providers" in out:
        out["providers"] = [answer(item) for item in out["providers"]]
    return out


# -- canonical specs and changes ---------------------------------------------------------------

def deployment(name: str, **kw: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": None,
        "metadata": {},
        "provider": "github",
        "tool_filters": [],
        "version": None,
    } | kw


def config(name: str, dep: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "description": None, "metadata": {}, "deployment": dep, "provider": "github",
            "vault": None, "tool_filters": []} | kw


def item(dep: str, cfg: str | None = None, **kw: Any) -> dict[str, Any]:
    return {"deployment": dep, "config": cfg, "auth_config": None, "tool_filters": []} | kw


def template(name: str, items: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"name": name, "description": None, "metadata": {}, "providers": items} | kw


def addr(text: str) -> Address:
    return Address.parse(text)


def desired(text: str, spec: dict[str, Any], secret: Any = None) -> Resource:
    return Resource(address=addr(text), spec=spec, secret=SecretValue(secret) if secret is not None else None)


def live(
    text: str, spec: dict[str, Any], id: str, children: dict[str, str] | None = None, stack: str = "prod"
) -> Resource:
    stamp = Stamp(stack=stack, address=text, spec_hash="sha256:old")
    return Resource(address=addr(text), spec=spec, id=id, stamp=stamp, children=children or {})


def change(action: Action, want: Resource | None = None, have: Resource | None = None, **kw: Any) -> Change:
    address = (want or have).address  # type: ignore[union-attr]
    return Change(action=action, address=address, reason="test", desired=want, live=have,
                  id=have.id if have else None, **kw)


def plan(*changes: Change, stack: str = "prod") -> Plan:
    """A plan of these changes, ordered as the planner orders them (planning/graph.edges)."""
    def refs(side: str) -> dict[Address, frozenset[Address]]:
        sides = ((c.address, getattr(c, side)) for c in changes)
        return {a: frozenset(ref for _, ref in KINDS[a.kind].references(r.spec)) for a, r in sides if r is not None}

    ordering = edges({c.address: c.action for c in changes}, refs("desired"), refs("live"))
    ordered = tuple(c.model_copy(update={
        "depends_on": ordering.depends_on.get(c.address, ()), "delete_after": ordering.delete_after.get(c.address, ()),
        "replace_mode": ordering.replace_mode.get(c.address)}) for c in changes)
    return Plan(stack=stack, changes=ordered)
