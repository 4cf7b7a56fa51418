"""What the API would refuse at apply time, predicted from the YAML and the catalog.

- Template providers (subspace providerCombination.ts): without `auth_config`, a provider whose
  version has auth methods is refused (400 auth_config_required: the public API gives deployments
  no default auth config); without `config`, a config schema with required properties is refused
  (400 config_required: our deployments have no default config).
- `tools:` keys must name tools of the provider's current version (did-you-mean), and a
  `tool_regex` must match at least one of them (the API's regexes are case-insensitive).

Diagnostics point at the YAML node (file:line:col), found again in the file the resource came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from metorial_apply.config.placement import placed
from metorial_apply.config.references import FROM_SECRET_SOURCE
from metorial_apply.config.sections import did_you_mean
from metorial_apply.config.yamlsource import Document, diagnostic, read_yaml_file
from metorial_apply.core.errors import ConfigError, Diagnostic
from metorial_apply.core.kinds import KINDS
from metorial_apply.core.model import Catalog, CatalogProvider, Defaults, Resource
from metorial_apply.core.state import State

Path = tuple[str | int, ...]


class Locator:
    """Positions of YAML nodes below a resource, read again from the resource's file (cached)."""

    def __init__(self) -> None:
        self._docs: dict[str, Document | None] = {}

    def _doc(self, resource: Resource) -> tuple[Document | None, int]:
        file, _, line = (resource.source or "").rpartition(":")
        if file not in self._docs:
            try:
                self._docs[file] = read_yaml_file(file, file) if file else None
            except ConfigError:
                self._docs[file] = None
        return self._docs[file], int(line) if line.isdigit() else 0

    def base(self, resource: Resource) -> Path:
        return (KINDS[resource.address.kind].section, resource.address.name)

    def node(self, resource: Resource, path: Path) -> Any:
        doc, _ = self._doc(resource)
        value = doc.data if doc else None
        for part in self.base(resource) + path:
            ok = (isinstance(value, dict) and part in value) or (isinstance(value, list) and isinstance(part, int))
            value = value[part] if ok and (not isinstance(value, list) or part < len(value)) else None  # type: ignore[index]
        return value

    def index(self, resource: Resource, path: Path, matches: Callable[[Any], bool]) -> int | None:
        items = self.node(resource, path)
        return next((i for i, item in enumerate(items) if matches(item)), None) if isinstance(items, list) else None

    def at(self, resource: Resource, path: Path, message: str, hint: str | None) -> Diagnostic:
        doc, line = self._doc(resource)
        full = self.base(resource) + path
        if doc is None:
            file = (resource.source or "").rpartition(":")[0] or None
            return Diagnostic(message=message, file=file, line=line or None, hint=hint)
        return diagnostic(doc.value_pos(full), full, message, hint)


def _providers(desired: State, catalog: Catalog) -> dict[str, CatalogProvider]:
    """Deployment name → its catalog provider."""
    out = {}
    for r in desired:
        provider = catalog.find(str(r.spec.get("provider"))) if r.address.kind == "deployment" else None
        if provider is not None:
            out[r.address.name] = provider
    return out


def has_required_config(schema: dict[str, Any] | None) -> bool:
    """providerCombination.ts's test: no schema → no; an object schema with properties and an empty
    `required` → no; anything else → yes. An object schema without properties counts as none
    (provider-utils normalizeJsonSchema; such a deployment gets an empty default config)."""
    if not schema or (schema.get("type") == "object" and not schema.get("properties")):
        return False
    return not (schema.get("type") == "object" and schema.get("properties") and not schema.get("required"))


def _provider_index(locate: Locator, template: Resource, deployment: str) -> int | None:
    """Where the template's provider for `deployment` sits in its YAML list (the file is read
    again only here, so only a plan with something to report pays for it)."""
    return locate.index(template, ("providers",), lambda e: isinstance(e, dict) and e.get("deployment") == deployment)


def _template_problems(template: Resource, by_deployment: dict[str, CatalogProvider], defaults: Defaults,
                       locate: Locator) -> Iterator[Diagnostic]:
    for item in template.spec.get("providers") or []:
        provider = by_deployment.get(item["deployment"])
        if provider is None:
            continue
        dep, found = item["deployment"], []
        if item.get("config") is None and dep not in defaults.config and has_required_config(provider.config_schema):
            required = ", ".join(map(str, (provider.config_schema or {}).get("required") or [])) or "a value"
            found.append(("the API requires a config for this provider (400 config_required)",
                          f"{provider.slug}'s config schema requires {required} and deployment {dep} has no "
                          "default config: give this provider a config"))
        if item.get("auth_config") is None and dep not in defaults.auth_config and provider.auth_methods:
            found.append(("the API requires an auth config for this provider (400 auth_config_required)",
                          f"{provider.slug} has auth methods and deployment {dep} has no default auth config: "
                          "give this provider an auth_config"))
        if found:
            index = _provider_index(locate, template, dep)
            where: Path = ("providers",) if index is None else ("providers", index)
            yield from (locate.at(template, where, message, hint) for message, hint in found)


def _regex_matches(pattern: str, keys: tuple[str, ...]) -> bool | None:
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error:
        return None  # not a Python regex: the API judges it
    return any(compiled.search(k) for k in keys)


def _rule_problems(resource: Resource, where_rules: Callable[[], Path | None], rules: list[dict[str, Any]],
                   provider: CatalogProvider, locate: Locator) -> Iterator[Diagnostic]:
    """Unknown tool keys and regexes matching no tool of `provider`'s current version. A key from
    ${env:}/${file:} is named by where it came from, never by its value (nor a did-you-mean of it).
    `where_rules` (the rules' YAML path; None: not found, nothing reported) runs at the first problem."""
    keys = provider.tools
    if keys is None or not any(_rule_fails(rule, keys) for rule in rules):
        return
    base = where_rules()
    if base is None:
        return
    hidden = bool(resource.sensitive & {"tool_filters", "providers"})
    listing = f"{provider.slug} tools: " + ", ".join(keys) if keys else f"{provider.slug} has no tools"
    for rule in rules:
        if rule.get("type") == "tool_keys":
            for key in rule.get("keys") or []:
                if key in keys:
                    continue
                index = locate.index(resource, base, lambda e, k=key: e == k)
                where = base if index is None else base + (index,)
                shown = FROM_SECRET_SOURCE if hidden else f'"{key}"'
                hint = listing if hidden else did_you_mean(key, list(keys)) or listing
                yield locate.at(resource, where, f"provider {provider.slug} has no tool {shown}", hint)
        elif rule.get("type") == "tool_regex" and _regex_matches(rule["pattern"], keys) is False:
            index = locate.index(resource, base, lambda e, p=rule["pattern"]: isinstance(e, dict)
                                 and e.get("tool_regex") == p)
            where = base if index is None else base + (index, "tool_regex")
            yield locate.at(resource, where, f"tool_regex matches none of provider {provider.slug}'s tools", listing)


def _rule_fails(rule: dict[str, Any], keys: tuple[str, ...]) -> bool:
    if rule.get("type") == "tool_keys":
        return any(key not in keys for key in rule.get("keys") or [])
    return rule.get("type") == "tool_regex" and _regex_matches(rule["pattern"], keys) is False


def _tool_problems(resource: Resource, by_deployment: dict[str, CatalogProvider], current: dict[str, bool],
                   catalog: Catalog, locate: Locator) -> Iterator[Diagnostic]:
    """`current`: deployment name → whether it uses the current version, whose tools the catalog
    read holds (a deployment locked to another version has other tools: what hangs on it is skipped)."""
    if resource.address.kind == "session_template":
        for item in resource.spec.get("providers") or []:
            provider, dep = by_deployment.get(item["deployment"]), item["deployment"]
            if provider and item.get("tool_filters") and current.get(dep):
                def where(dep: str = dep) -> Path | None:
                    index = _provider_index(locate, resource, dep)
                    return None if index is None else ("providers", index, "tools")
                yield from _rule_problems(resource, where, item["tool_filters"], provider, locate)
        return
    provider = catalog.find(str(resource.spec.get("provider")))
    owner = resource.address.name if resource.address.kind == "deployment" else resource.spec.get("deployment")
    if provider is not None and resource.spec.get("tool_filters") and (owner is None or current.get(owner)):
        yield from _rule_problems(resource, lambda: ("tools",), resource.spec["tool_filters"], provider, locate)


def _uses_current(desired: State, by_deployment: dict[str, CatalogProvider]) -> dict[str, bool]:
    out = {}
    for r in desired:
        provider = by_deployment.get(r.address.name) if r.address.kind == "deployment" else None
        if provider is not None:
            out[r.address.name] = r.spec.get("version") in (None, _current(provider))
    return out


def _current(provider: CatalogProvider) -> str | None:
    return next((v for v, i in provider.versions.items() if i == provider.current_version_id), None)


def predicted_problems(desired: State, catalog: Catalog, defaults: Defaults | None = None) -> list[Diagnostic]:
    """Every template-provider and tool problem the API would answer with a 400 at apply time.
    `defaults`: our live deployments' default configs and auth configs (none when not read: the
    API gives the deployments it creates neither)."""
    defaults = defaults or Defaults()
    locate, by_deployment = Locator(), _providers(desired, catalog)
    current = _uses_current(desired, by_deployment)
    problems: list[Diagnostic] = []
    for resource in desired:
        if resource.address.kind == "session_template":
            problems += _template_problems(resource, by_deployment, defaults, locate)
        problems += _tool_problems(resource, by_deployment, current, catalog, locate)
    return problems


def check_predicted(desired: State, catalog: Catalog, defaults: Defaults) -> None:
    """Raise ConfigError with every predicted refusal, given what the live read showed."""
    problems = predicted_problems(desired, catalog, defaults)
    if problems:
        ordered = sorted(placed(problems), key=lambda d: (d.file or "", d.line or 0, d.column or 0, d.message))
        raise ConfigError(ordered)

