"""Hypothesis strategies for random but valid configurations covering every kind, and random
mutations of one. Built from the emulator's seeded catalog (providers, versions, auth methods
with their input schemas, config schemas), so every value the generator writes is one the
API accepts. A configuration is a plain dict dumped with yaml.safe_dump, which quotes what
YAML would otherwise read as another type ("on", "null", "1e3", " padded ").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

import metorial_apply

CATALOG = json.loads((Path(metorial_apply.__file__).parent / "emulator" / "catalog_data.json").read_text())
PROVIDERS: dict[str, dict[str, Any]] = {p["slug"]: p for p in CATALOG["providers"]}
SLUGS = sorted(PROVIDERS)
# Auth configs need a provider with an auth method, credentials one with an OAuth method
# (the key services' providers, metal and metlo, take their key as config and have neither).
METHOD_SLUGS = [s for s in SLUGS if PROVIDERS[s]["auth_methods"]]
OAUTH_SLUGS = [s for s in SLUGS if any(m["type"] == "oauth" for m in PROVIDERS[s]["auth_methods"])]
STACK = "prop"
# Small name pools per section, so a mutation's fresh draw re-uses, drops and adds names.
POOLS = {
    "deployments": ["gh", "d.1", "_d-2"], "config_vaults": ["v1", "v.2"], "configs": ["c1", "c-2", "c_3"],
    "auth_credentials": ["cr1", "cr2"], "auth_configs": ["a1", "a2", "a3"], "session_templates": ["t1", "t.2"],
}
ORDER = list(POOLS)  # dependency order: what a section references comes earlier

TRICKY = [
    "", " ", "  padded  ", "on", "off", "yes", "no", "null", "~", "Null", "1e3", "0x1F", "012", "1.0", "true",
    ".inf", "-", "#hash", "a: b", "[x]", "{y}", "'single'", '"double"', "héllo wörld", "日本語テキスト", "emoji 🚀",
    "line1\nline2", "trailing newline\n", "tab\there", "\u00a0nbsp\u00a0", "x" * 300, "$${literal}", "keys with spaces",
    "<<", "=", "nul\x00byte", "\ufeffbom", "\x1cfile-separator\x1f", "\x85nel", "\u2028ls", "\u3000ideographic\u3000",
]


# `${env:…}` values (secret by default) for names, descriptions and write-only values.
ENV = {
    "PROP_PAD": "  padded env  ",
    "PROP_BOM": "\ufeffbom env",
    "PROP_EMPTY": "",
    "PROP_ON": "on",
    "PROP_UNI": "日本語 ✓",
}
FROM_ENV = [f"${{env:{k}}}" for k in ENV]


def no_interpolation(text: str) -> bool:
    return "${" not in text.replace("$${", "")


texts = st.one_of(st.sampled_from(TRICKY), st.text(max_size=30).filter(no_interpolation))
nonempty = texts.filter(lambda s: s != "")
interpolated = st.one_of(texts, st.sampled_from(FROM_ENV))  # for fields where ${env:} is allowed
secret_text = st.one_of(nonempty, st.sampled_from([e for e in FROM_ENV if "EMPTY" not in e]))
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(),
                         st.floats(allow_nan=False, allow_infinity=False), texts)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)), max_leaves=8)
metadata = st.dictionaries(texts.filter(lambda k: not k.startswith("metorial-apply/")), json_values, max_size=4)


def matching_regexes(tool_keys: list[str]) -> list[str]:
    """Regexes that match at least one of the tools (one matching none is a validation error)."""
    return [".*", "^" + tool_keys[0][:4], tool_keys[-1][-4:].upper() + "$", "(?i)" + tool_keys[1][2:6]]


@st.composite
def tool_rule(draw: st.DrawFn, tool_keys: list[str]) -> dict[str, Any]:
    """A rule; tool keys and tool regexes name tools that exist (others are validation errors),
    resource and prompt rules are free text (the API only checks their shape)."""
    kind = draw(
        st.sampled_from(["tool_keys", "tool_regex", "resource_uris", "resource_regex", "prompt_keys", "prompt_regex"])
    )
    if kind == "tool_regex":
        return {kind: draw(st.sampled_from(matching_regexes(tool_keys)))}
    if kind.endswith("_regex"):
        return {kind: draw(st.one_of(st.sampled_from(["^list_", "issue$", "(?i)CREATE", ".*"]), nonempty))}
    keys = st.sampled_from(tool_keys) if kind == "tool_keys" else st.one_of(st.sampled_from(tool_keys), texts)
    return {kind: draw(st.lists(keys, max_size=4))}


@st.composite
def tools(draw: st.DrawFn, provider: str) -> list[Any] | None:
    """Absent, empty, tool keys (duplicates, any order), or rules mixed with keys."""
    keys = current_tools(provider)
    shape = draw(st.sampled_from(["absent", "empty", "keys", "rules"]))
    if shape == "absent":
        return None
    if shape == "empty":
        return []
    key = st.sampled_from(keys)
    if shape == "keys":
        return draw(st.lists(key, min_size=1, max_size=5))
    return draw(st.lists(st.one_of(key, tool_rule(keys)), min_size=1, max_size=4))


def current_tools(provider: str) -> list[str]:
    """Tool keys of the provider's current version, which `validate --online` checks keys against."""
    entry = PROVIDERS[provider]
    current = next(v for v in entry["versions"] if v.get("current"))
    return [t["key"] for t in entry["tools"] if t["key"] not in current.get("exclude_tools", [])]


def schema_value(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    """An object satisfying one of the catalog's flat string-property schemas."""
    required = set(schema.get("required", []))
    out = {}
    for name, prop in sorted(schema.get("properties", {}).items()):
        if name in required or draw(st.booleans()):
            out[name] = draw(secret_text if prop.get("minLength") else interpolated)
    return out


@st.composite
def common(draw: st.DrawFn) -> dict[str, Any]:
    """Optional name, description and metadata."""
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["name"] = draw(interpolated)
    if draw(st.booleans()):
        out["description"] = draw(interpolated)
    if draw(st.booleans()):
        out["metadata"] = draw(metadata)
    if draw(st.integers(0, 3)) == 0:
        out["protect"] = draw(st.booleans())
    return out


def owner_provider(config: dict[str, Any], section: str, name: str) -> str:
    """The provider a resource of `config` belongs to (explicit, or from what it references)."""
    spec = config[section][name]
    if spec.get("provider"):
        return spec["provider"]
    if spec.get("deployment"):
        return owner_provider(config, "deployments", spec["deployment"])
    return owner_provider(config, "config_vaults", spec["vault"])


def named(config: dict[str, Any], section: str, provider: str) -> list[str]:
    return sorted(n for n in config.get(section, {}) if owner_provider(config, section, n) == provider)


def maybe(draw: st.DrawFn, choices: list[str]) -> str | None:
    return draw(st.sampled_from([None, *choices])) if choices else None


def deployment(draw: st.DrawFn, config: dict[str, Any]) -> dict[str, Any]:
    provider = draw(st.sampled_from(SLUGS))
    out = {"provider": provider} | draw(common())
    found = draw(tools(provider))
    if found is not None:
        out["tools"] = found
    if draw(st.booleans()):
        out["version"] = draw(st.sampled_from([v["version"] for v in PROVIDERS[provider]["versions"]]))
    return out


def placed(draw: st.DrawFn, config: dict[str, Any], provider: str) -> dict[str, Any]:
    """`deployment:` of the provider when one exists (sometimes), `provider:` when needed or drawn."""
    dep = maybe(draw, named(config, "deployments", provider))
    out: dict[str, Any] = {"deployment": dep} if dep else {}
    if dep is None or draw(st.booleans()):
        out["provider"] = provider
    return out


def vault(draw: st.DrawFn, config: dict[str, Any]) -> dict[str, Any]:
    provider = draw(st.sampled_from(SLUGS))
    value = schema_value(draw, PROVIDERS[provider]["config_schema"])
    return placed(draw, config, provider) | draw(common()) | {"value": value}


def provider_config(draw: st.DrawFn, config: dict[str, Any]) -> dict[str, Any]:
    provider = draw(st.sampled_from(SLUGS))
    out = placed(draw, config, provider) | draw(common())
    # A vault bound to a deployment lends it to the config: a config on another deployment is refused.
    vaults = [v for v in named(config, "config_vaults", provider)
              if config["config_vaults"][v].get("deployment") in (None, out.get("deployment"))]
    source = maybe(draw, vaults) if "deployment" in out else maybe(draw, named(config, "config_vaults", provider))
    if source:
        out["vault"] = source
        if "deployment" not in out and draw(st.booleans()):
            out.pop("provider")  # the vault alone names the provider
    else:
        out["value"] = schema_value(draw, PROVIDERS[provider]["config_schema"])
    found = draw(tools(provider))
    return out | ({"tools": found} if found is not None else {})


def auth_config(draw: st.DrawFn, config: dict[str, Any]) -> dict[str, Any]:
    provider = draw(st.sampled_from(METHOD_SLUGS))
    method = draw(st.sampled_from(PROVIDERS[provider]["auth_methods"]))
    out = placed(draw, config, provider) | draw(common()) | {"method": method["key"]}
    out["value"] = schema_value(draw, method["input_schema"])
    found = draw(tools(provider))
    return out | ({"tools": found} if found is not None else {})


def credentials(draw: st.DrawFn, config: dict[str, Any]) -> dict[str, Any]:
    provider = draw(st.sampled_from(OAUTH_SLUGS))
    scopes = [s["scope"] for m in PROVIDERS[provider]["auth_methods"] for s in m.get("scopes", [])]
    return {"provider": provider} | draw(common()) | {
        "client_id": draw(secret_text), "client_secret": draw(secret_text),
        "scopes": draw(st.lists(st.one_of(st.sampled_from(scopes), nonempty), max_size=5)),
    }


def template(draw: st.DrawFn, config: dict[str, Any]) -> dict[str, Any]:
    deployments = sorted(config.get("deployments", {}))
    chosen = draw(st.lists(st.sampled_from(deployments), unique=True, max_size=3)) if deployments else []
    items = []
    for dep in chosen:
        provider = owner_provider(config, "deployments", dep)
        item: dict[str, Any] = {"deployment": dep}
        for field, section in (("config", "configs"), ("auth_config", "auth_configs")):
            usable = [n for n in named(config, section, provider) if bound_to(config, section, n) in (None, dep)]
            ref = draw(st.sampled_from(usable)) if usable and needs(provider, field) else maybe(draw, usable)
            if ref:
                item[field] = ref
        if any(needs(provider, f) and f not in item for f in ("config", "auth_config")):
            continue  # the API would refuse this provider: nothing usable to give it
        found = draw(tools(provider))
        items.append(item | ({"tools": found} if found is not None else {}))
    return draw(common()) | ({"providers": items} if items or draw(st.booleans()) else {})


def bound_to(config: dict[str, Any], section: str, name: str) -> str | None:
    """The deployment a config or auth config is bound to (a config from a vault takes the vault's)."""
    spec = config[section][name]
    if spec.get("deployment") or section != "configs" or not spec.get("vault"):
        return spec.get("deployment")
    return config["config_vaults"][spec["vault"]].get("deployment")


def needs(provider: str, field: str) -> bool:
    """Template providers of this provider need this field (our deployments have no defaults):
    an auth config when it has auth methods, a config when its schema requires properties."""
    entry = PROVIDERS[provider]
    return bool(entry["auth_methods"]) if field == "auth_config" else bool(entry["config_schema"].get("required"))


MAKERS = {"deployments": deployment, "config_vaults": vault, "configs": provider_config,
          "auth_credentials": credentials, "auth_configs": auth_config, "session_templates": template}


def refs_of(section: str, spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(section, name) of every resource `spec` references, template items included."""
    top = [("deployments", spec.get("deployment")), ("config_vaults", spec.get("vault"))]
    for item in spec.get("providers", []) if section == "session_templates" else []:
        top += [("deployments", item["deployment"]), ("configs", item.get("config")),
                ("auth_configs", item.get("auth_config"))]
    return [(s, n) for s, n in top if n]


def still_valid(old: dict[str, Any], new: dict[str, Any], section: str, name: str) -> bool:
    """A resource kept from `old` stays valid when everything it references is kept as it was
    (so its provider, deployment bindings, method and value still agree)."""
    refs = refs_of(section, old[section][name])
    return all(n in new.get(s, {}) and new[s][n] == old[s][n] for s, n in refs)


@st.composite
def configs(draw: st.DrawFn, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A valid configuration; with `base`, a mutation of it: each resource kept, redrawn
    (fields, refs, provider) or dropped, and new names added."""
    config: dict[str, Any] = {}
    for section in ORDER:
        config[section] = {}
        for name in POOLS[section]:
            if base is not None and name in base[section]:
                choice = draw(st.sampled_from(["keep", "keep", "keep", "redraw", "drop"]))
                if choice == "drop":
                    continue
                if choice == "keep" and still_valid(base, config, section, name):
                    config[section][name] = base[section][name]
                    continue
            elif not draw(st.booleans()):
                continue
            config[section][name] = MAKERS[section](draw, config)
    return config


def unprotected(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration without `protect:` (for the CLI, which refuses to delete those)."""
    return {s: {n: {k: v for k, v in spec.items() if k != "protect"} for n, spec in block.items()}
            for s, block in config.items()}


def dump(config: dict[str, Any], flow: bool = False) -> str:
    doc = {"stack": STACK} | {s: v for s, v in config.items() if v}
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, default_flow_style=flow, width=80)


# -- equivalent rewrites: another way to write the same configuration ----------------------

CatalogIds = dict[str, dict[str, Any]]  # slug → {"id", "versions": {version: id}, "methods": {key: id}}


def shuffled(draw: st.DrawFn, items: list[Any], duplicate: bool = True) -> list[Any]:
    """The same set of items in another order, some written twice."""
    out = draw(st.permutations(items)) if items else []
    extra = draw(st.lists(st.sampled_from(items), max_size=2)) if items and duplicate else []
    return [*out, *extra]


def same_text(draw: st.DrawFn, value: str | None, default: str | None) -> str | None:
    """A name or description written differently: padded, or unset when it is the default."""
    if value is None or value.strip() in ("", default):
        return draw(st.sampled_from([None, default or "", " ", "  " + (default or "") + " "]))
    return draw(st.sampled_from([value, f" {value.strip()}  "]))


def same_tools(draw: st.DrawFn, found: list[Any] | None) -> list[Any] | None:
    if not found:
        return draw(st.sampled_from([None, []]))
    rules = [t if isinstance(t, str) else {k: shuffled(draw, v) if isinstance(v, list) else v for k, v in t.items()}
             for t in found]
    return shuffled(draw, rules, duplicate=False)


def same_catalog_names(draw: st.DrawFn, spec: dict[str, Any], provider: str, ids: CatalogIds) -> None:
    """Provider by slug, identifier or id; method and version by key or id."""
    if "provider" in spec:
        spec["provider"] = draw(st.sampled_from([provider, PROVIDERS[provider]["identifier"], ids[provider]["id"]]))
    for field, table in (("method", "methods"), ("version", "versions")):
        if field in spec and draw(st.booleans()):
            spec[field] = ids[provider][table][spec[field]]


def same_provider_field(draw: st.DrawFn, spec: dict[str, Any], provider: str) -> None:
    """`provider:` is redundant beside a deployment or vault: write it or leave it out."""
    if "deployment" in spec or "vault" in spec:
        spec.pop("provider", None)
        if draw(st.booleans()):
            spec["provider"] = provider


def same_resource(draw: st.DrawFn, config: dict[str, Any], section: str, name: str, ids: CatalogIds) -> dict[str, Any]:
    spec = dict(config[section][name])
    provider = owner_provider(config, section, name) if section != "session_templates" else ""
    for field, default in (("name", name), ("description", None)):
        spec[field] = same_text(draw, spec.get(field), default)
    spec["metadata"] = spec.get("metadata") or draw(st.sampled_from([None, {}]))
    spec["protect"] = spec.get("protect") or draw(st.sampled_from([None, False]))
    if section in ("deployments", "configs", "auth_configs"):
        spec["tools"] = same_tools(draw, spec.get("tools"))
    if section == "auth_credentials":
        spec["scopes"] = shuffled(draw, spec["scopes"])
    if section == "session_templates":
        items = [dict(i) | {"tools": same_tools(draw, i.get("tools"))} for i in spec.get("providers", [])]
        spec["providers"] = shuffled(draw, items, duplicate=False)
    if provider:
        same_provider_field(draw, spec, provider)
        same_catalog_names(draw, spec, provider, ids)
    keys = draw(st.permutations(sorted(k for k, v in spec.items() if v is not None)))
    return {k: spec[k] for k in keys}


@st.composite
def equivalent(draw: st.DrawFn, config: dict[str, Any], ids: CatalogIds) -> dict[str, Any]:
    """The same configuration written another way: defaults spelled out or left out, names
    padded, lists reordered and repeated, providers/methods/versions by id, keys reordered."""
    out: dict[str, Any] = {}
    for section in draw(st.permutations(ORDER)):
        names = draw(st.permutations(sorted(config[section])))
        out[section] = {n: same_resource(draw, config, section, n, ids) for n in names}
    return out
