"""References between resources: unknown or wrong-kind refs, cycles, and provider agreement.

Generic over `KindSpec.references()`: a resource whose spec has a `provider` takes it from a
referenced resource when omitted, and must agree with it when given; the refs of one
session-template provider must all belong to one provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from graphlib import CycleError

from metorial_apply.config.sections import did_you_mean
from metorial_apply.config.yamlsource import YamlPath
from metorial_apply.core.kinds import KINDS
from metorial_apply.core.model import Address, Resource, parse_spec_path
from metorial_apply.core.toposort import NumberedSorter

Refs = dict[Address, list[tuple[YamlPath, Address]]]
PROVIDER_ID_PREFIX = "pro_"  # ids and slugs only compare after catalog resolution
IDENTIFIER_SEPARATORS = "-/_.:"  # an identifier namespaces the slug: metorial-github, metorial/github


@dataclass(frozen=True)
class RefProblem:
    """A reference problem at `path` (relative to the resource) of `address`."""

    address: Address
    path: YamlPath
    message: str
    hint: str | None = None


def references_of(resource: Resource, spec: dict | None = None) -> list[tuple[YamlPath, Address]]:
    """Refs of a resource (from `spec` when given, e.g. a YAML-ordered dump) as (path, address)."""
    kind = KINDS[resource.address.kind]
    return [(parse_spec_path(p), a) for p, a in kind.references(spec if spec is not None else resource.spec)]


FROM_SECRET_SOURCE = "(a value from ${env:} or ${file:})"  # what a message says in place of such a value


def shown(resource: Resource, path: YamlPath, text: str | None) -> str:
    """A spec value quoted for a message, or a placeholder when it came from env or a file."""
    if path and str(path[0]) in resource.sensitive:
        return FROM_SECRET_SOURCE
    return f'"{text}"'


def check_targets(resources: dict[Address, Resource], refs: Refs,
                  declared: Iterable[Address] = ()) -> list[RefProblem]:
    """Every ref names an existing resource of the right kind. A ref to a `declared` resource
    that failed validation is not reported again (its own errors say what is wrong)."""
    declared = set(declared) | set(resources)
    names_by_kind: dict[str, list[str]] = {}
    for address in declared:
        names_by_kind.setdefault(address.kind, []).append(address.name)
    problems = []
    for address, items in refs.items():
        for path, target in items:
            if target in declared:
                continue
            others = [k for k, names in names_by_kind.items() if target.name in names]
            hint = (f'"{target.name}" is a {others[0]}; {path[-1]}: must name a {target.kind}' if others
                    else did_you_mean(target.name, names_by_kind.get(target.kind, [])))
            if str(path[0]) in resources[address].sensitive:
                hint = None
            problems.append(
                RefProblem(
                    address, path, f"no {target.kind} named {shown(resources[address], path, target.name)}", hint
                )
            )
    return problems


def dependency_order(addresses: Iterable[Address], refs: Refs) -> tuple[list[Address], list[RefProblem]]:
    """Addresses with what they reference first; a cycle is a problem naming it."""
    graph = {a: {t for _, t in refs.get(a, [])} for a in addresses}
    try:
        return NumberedSorter(graph).static_order(), []
    except CycleError as exc:
        cycle = [str(a) for a in exc.args[1]]
        first = exc.args[1][0]
        problem = RefProblem(
            first, (), "reference cycle: " + " → ".join(cycle), "break the cycle by removing one reference"
        )
        return sorted(graph, key=str), [problem]


def same_provider(a: str, b: str, canonical: bool) -> bool:
    """Offline, an id and a slug cannot be compared, so they are assumed to agree; nor can an
    identifier and the slug it ends with ("metorial-github", "github"). After catalog
    resolution (`canonical`) both are slugs and compare exactly."""
    if canonical or a == b:
        return a == b
    if a.startswith(PROVIDER_ID_PREFIX) or b.startswith(PROVIDER_ID_PREFIX):
        return True
    return any(x.endswith(sep + y) for x, y in ((a, b), (b, a)) for sep in IDENTIFIER_SEPARATORS)


def _provider(resource: Resource | None) -> str | None:
    value = resource.spec.get("provider") if resource is not None else None
    return value if isinstance(value, str) else None


def fill_providers(resources: dict[Address, Resource], refs: Refs, order: list[Address], *,
                   canonical: bool = False) -> tuple[dict[Address, Resource], list[RefProblem]]:
    """Take `provider` from referenced resources when omitted; report refs to another provider."""
    out = dict(resources)
    problems: list[RefProblem] = []
    for address in order:
        resource = out.get(address)
        if resource is None or "provider" not in resource.spec:
            continue
        for path, target in refs.get(address, []):
            theirs = _provider(out.get(target))
            if len(path) != 1 or theirs is None:
                continue
            mine = _provider(out[address])
            if mine is None:
                out[address] = out[address].model_copy(update={"spec": out[address].spec | {"provider": theirs}})
            elif not same_provider(mine, theirs, canonical):
                problems.append(_mismatch(out[address], path, out[target], mine, theirs))
    return out, problems + _child_mismatches(out, refs, canonical)


def _mismatch(resource: Resource, path: YamlPath, other: Resource, mine: str, theirs: str) -> RefProblem:
    target = other.address
    return RefProblem(
        resource.address, path,
        f"{target.kind} \"{target.name}\" uses provider {shown(other, ('provider',), theirs)}, "
        f"but this {resource.address.kind} has provider {shown(resource, ('provider',), mine)}",
        f"remove provider: to take it from the {target.kind}, or reference a {target.kind} of the same provider",
    )


def _child_mismatches(resources: dict[Address, Resource], refs: Refs, canonical: bool) -> list[RefProblem]:
    """All refs of one child item (a template provider) must belong to one provider."""
    problems = []
    for address, items in refs.items():
        groups: dict[tuple, list[tuple[YamlPath, Address]]] = {}
        for path, target in items:
            if len(path) > 1:
                groups.setdefault(path[:-1], []).append((path, target))
        for group in groups.values():
            problems += _group_mismatch(resources, address, group, canonical)
    return problems


def _group_mismatch(resources: dict[Address, Resource], address: Address,
                    group: list[tuple[YamlPath, Address]], canonical: bool) -> list[RefProblem]:
    known = [(p, t, _provider(resources.get(t))) for p, t in group]
    known = [(p, t, prov) for p, t, prov in known if prov is not None]
    if not known:
        return []
    _, first, p1 = known[0]  # the deployment, when it is known: CHILD_REFS lists it first
    for path, target, p2 in known[1:]:
        if not same_provider(p1, p2, canonical):
            theirs, ours = (shown(resources[a], ("provider",), p) for a, p in ((target, p2), (first, p1)))
            return [RefProblem(address, path,
                               f'{target.kind} "{target.name}" belongs to provider {theirs}, but {first.kind} '
                               f'"{first.name}" belongs to provider {ours}',
                               "the deployment, config and auth config of one template provider must share a provider")]
    return []
