"""Deployment bindings the API enforces, predicted from the YAML alone.

- A config built from a vault without `deployment:` is created on the vault's deployment
  (subspace providerConfig.ts: `deployment ?? vault.deployment`), so it is planned with it; a
  config whose deployment differs from its vault's is refused (412 deployment_lock_mismatch).
- A template provider's config or auth config bound to another deployment is refused (400
  "Provider session inputs cannot be used with the selected deployment").
"""

from __future__ import annotations

from metorial_apply.config.references import RefProblem, Refs, shown
from metorial_apply.core.model import Address, Resource

ARTICLED = {"config": "a config", "auth_config": "an auth config"}


def _deployment(resources: dict[Address, Resource], kind: str, name: str | None) -> str | None:
    target = resources.get(Address(kind=kind, name=name)) if name else None
    value = target.spec.get("deployment") if target is not None else None
    return value if isinstance(value, str) else None


def inherit_vault_deployments(resources: dict[Address, Resource]) -> tuple[dict[Address, Resource], list[RefProblem]]:
    """Configs from a bound vault take its deployment; a different deployment is a problem."""
    out, problems = dict(resources), []
    for address, resource in resources.items():
        vault = resource.spec.get("vault") if address.kind == "config" else None
        bound = _deployment(resources, "config_vault", vault)
        mine = resource.spec.get("deployment")
        if bound is None or mine == bound:
            continue
        if mine is None:
            out[address] = resource.model_copy(update={"spec": resource.spec | {"deployment": bound}})
            continue
        problems.append(RefProblem(
            address, ("deployment",),
            f'config vault "{vault}" is bound to deployment "{bound}", but this config names deployment '
            f"{shown(resource, ('deployment',), mine)} (the API answers 412 deployment_lock_mismatch)",
            f"remove deployment: (the config takes the vault's), or use a vault of deployment {mine}",
        ))
    return out, problems


def template_binding_problems(resources: dict[Address, Resource], refs: Refs) -> list[RefProblem]:
    """A template provider's config / auth config must be unbound or bound to its deployment.
    Read from `refs`, whose paths follow the YAML's order of providers."""
    problems = []
    for address, items in refs.items():
        chosen = {path[:-1]: target.name for path, target in items if len(path) == 3 and path[-1] == "deployment"}
        for path, target in items:
            deployment = chosen.get(path[:-1]) if len(path) == 3 and path[-1] != "deployment" else None
            bound = _deployment(resources, target.kind, target.name) if deployment else None
            if bound is None or bound == deployment:
                continue
            problems.append(RefProblem(
                address, path,
                f'{target.kind} "{target.name}" belongs to deployment "{bound}", but this template provider uses '
                f'deployment "{deployment}" (the API refuses it)',
                f"use {ARTICLED[target.kind]} of deployment {deployment}, or one without a deployment",
            ))
    return problems
