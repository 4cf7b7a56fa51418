"""Live objects → YAML in our language, for `metorial-apply export`. Pure: the CLI lists the
objects and the catalog, this turns them into file texts.

What is exported: one stack's managed resources (`stack`), or every unstamped object
(`stack=None`), each with an `imports:` entry. Lock records never; the platform's auto-created
defaults (`is_default` objects: the default deployment of a provider, a deployment's default
config) only with `include_defaults`, or when an exported resource refers to one. A resource
that refers to an object outside the export (another stack's, gone) is left out with a note.
Write-only values become `${env:…}` placeholders (see exportnames.py), listed in .env.example.
Every other string comes from the API and is untrusted: `${` is escaped to `$${` so nothing
exported interpolates, and the YAML is written by `yaml.safe_dump` (no tags).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import yaml

from metorial_apply.core.index import is_index_record
from metorial_apply.core.kinds import METORIAL_KINDS, KindSpec, Spec
from metorial_apply.core.lock import is_lock_record, printable
from metorial_apply.core.model import NAME, Address, Catalog, Stamp
from metorial_apply.core.specs import RULE_FIELDS
from metorial_apply.render.exportnames import EnvNames, base_name, unique_names

Raw = dict[str, Any]
CONFIG_FILE = "stack.yaml"
ENV_FILE = ".env.example"
# Spec fields in the order a person writes them; tool_filters is written as `tools:`.
FIELD_ORDER = ("name", "description", "provider", "deployment", "vault", "method", "version", "scopes",
               "tool_filters", "providers", "metadata")
YAML_FIELD = {"tool_filters": "tools"}


@dataclass(frozen=True)
class ExportRequest:
    stack: str | None = None  # this stack's managed resources; None: every unstamped object
    kinds: frozenset[str] = frozenset()  # kinds written (empty: all)
    include_defaults: bool = False
    out_stack: str = "default"  # `stack:` of the YAML written for unstamped objects


@dataclass(frozen=True)
class Placeholder:
    env: str  # variable name
    address: str
    field: str  # "value.base_url", "client_secret"


@dataclass(frozen=True)
class Export:
    files: dict[str, str]  # file name → text
    resources: int
    imports: int
    placeholders: tuple[Placeholder, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Picked:
    """One live object chosen for export, with the resource name it gets."""

    kind: KindSpec
    obj: Raw
    name: str
    stamp: Stamp | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.kind.kind, self.obj["id"]

    @property
    def address(self) -> Address:
        return Address(kind=self.kind.kind, name=self.name)


# An id goes into URLs and one-line `imports:` entries: printable ASCII without spaces, or left out.
ID = re.compile(r"[!-~]{1,200}")


def _usable(objects: list[Any]) -> list[Raw]:
    return [o for o in objects if isinstance(o, dict) and isinstance(o.get("id"), str) and ID.fullmatch(o["id"])
            and not is_lock_record(o) and not is_index_record(o) and o.get("status", "active") == "active"]


def _age(obj: Raw) -> tuple[str, str]:
    return str(obj.get("created_at") or ""), obj["id"]


def pick_managed(listed: dict[str, list[Any]], stack: str, notes: list[str]) -> list[Picked]:
    """Objects stamped for `stack` at a valid address of their kind; of duplicates the oldest."""
    out: list[Picked] = []
    for kind in METORIAL_KINDS.values():
        seen: set[str] = set()
        for obj in sorted(_usable(listed.get(kind.kind, [])), key=_age):
            stamp = Stamp.of(obj)
            if stamp is None or stamp.stack != stack:
                continue
            kind_name, _, name = stamp.address.partition(".")
            if kind_name != kind.kind or not NAME.fullmatch(name):
                notes.append(f"{obj['id']} is stamped {printable(stamp.address)!r} for stack {stack}: left out")
            elif name in seen:
                notes.append(f"{obj['id']} duplicates {kind.kind}.{name} (an older object has it): left out")
            else:
                seen.add(name)
                out.append(Picked(kind, obj, name, stamp))
    return out


def pick_unmanaged(listed: dict[str, list[Any]], notes: list[str]) -> list[Picked]:
    """Every unstamped object, named after its live name (unique per kind, oldest first)."""
    out: list[Picked] = []
    stacks: Counter[str] = Counter()
    for kind in METORIAL_KINDS.values():
        objects = []
        for obj in _usable(listed.get(kind.kind, [])):
            stamp = Stamp.of(obj)
            if stamp is not None:
                stacks[stamp.stack] += 1
            else:
                objects.append((base_name(obj.get("name"), kind.kind.replace("_", "-")), obj))
        objects.sort(key=lambda pair: (pair[0], *_age(pair[1])))
        names = unique_names((obj["id"], base) for base, obj in objects)
        out += [Picked(kind, obj, names[obj["id"]]) for _, obj in objects]
    if stacks:
        listing = ", ".join(f"{printable(s)} ({n})" for s, n in sorted(stacks.items()))
        notes.append(f"left out {sum(stacks.values())} objects managed by stacks: {listing}; "
                     "export one with --stack NAME")
    return out


class RecordingNames:
    """kinds.Names that remembers which objects a spec referred to, and which ids it could not name."""

    def __init__(self, names: dict[tuple[str, str], str], slugs: dict[str, str]) -> None:
        self.names, self.slugs = names, slugs
        self.used: set[tuple[str, str]] = set()
        self.missed: set[tuple[str, str]] = set()

    def name_of(self, kind: str, id: str) -> str:
        if (kind, id) in self.names:
            self.used.add((kind, id))
            return self.names[(kind, id)]
        self.missed.add((kind, id))
        return id

    def provider_slug(self, provider_id: str) -> str:
        return self.slugs.get(provider_id, provider_id)


def platform_made(obj: Raw) -> bool:
    """An object the platform made on its own: a default (a provider's default deployment, a
    deployment's default config or auth config), Metorial-managed OAuth credentials, or an auth
    config of source "system"."""
    return obj.get("is_default") is True or obj.get("is_managed") is True or obj.get("source") == "system"


def settle(pool: list[Picked], catalog: Catalog, include_defaults: bool,
           notes: list[str]) -> list[tuple[Picked, Spec]]:
    """Canonical specs of what is exported: defaults only when asked or referred to, and never a
    resource referring to something outside the pool (repeated until nothing changes)."""
    by_key = {p.key: p for p in pool}
    names = {p.key: p.name for p in pool}
    slugs = {p.id: p.slug for p in catalog.providers}
    chosen = {p.key for p in pool if include_defaults or not platform_made(p.obj)}
    for _ in range(len(pool) + 1):
        specs: dict[tuple[str, str], Spec] = {}
        changed = False
        for key in sorted(chosen):
            recorder = RecordingNames(names, slugs)
            specs[key] = by_key[key].kind.from_api(by_key[key].obj, recorder)
            if recorder.missed:
                missing = ", ".join(sorted(f"{k} {i}" for k, i in recorder.missed))
                notes.append(f"{by_key[key].address} refers to {printable(missing)}, not exported: left out")
                chosen.discard(key)
                changed = True
            elif not recorder.used <= chosen:
                chosen |= recorder.used
                changed = True
        if not changed:
            return sorted(((by_key[k], s) for k, s in specs.items()),
                          key=lambda pair: (pair[0].kind.order, pair[0].name))
    raise AssertionError("export selection did not settle")  # each pass adds or drops; bounded above


def inert(value: Any) -> Any:
    """An API value made safe to load back: `${` in any string becomes the literal `$${`."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: inert(v) for k, v in value.items()}
    if isinstance(value, list):
        return [inert(v) for v in value]
    return value


def tools_yaml(rules: list[dict[str, Any]]) -> list[Any]:
    """Canonical API rules → `tools:`: the first tool_keys rule as bare keys, the rest as rules."""
    out: list[Any] = []
    bare = False
    for rule in rules:
        kind = rule.get("type")
        if kind == "tool_keys" and not bare and rule.get("keys"):
            out += list(rule["keys"])
            bare = True
        elif kind in RULE_FIELDS:
            out.append({kind: rule.get(RULE_FIELDS[kind])})
        else:  # a rule type this version does not know: kept, so `validate` names it
            out.append(dict(rule))
    return out


def template_item(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: item[k] for k in ("deployment", "config", "auth_config") if item.get(k)}
    if item.get("tool_filters"):
        out["tools"] = tools_yaml(item["tool_filters"])
    return out


def visible_fields(picked: Picked, spec: Spec) -> dict[str, Any]:
    """The non-secret YAML fields of one resource, defaults left out, strings made inert."""
    out: dict[str, Any] = {}
    implied = bool(spec.get("deployment") or spec.get("vault"))  # the provider follows from these
    for f in FIELD_ORDER:
        value = spec.get(f)
        if f not in spec or value in (None, [], {}) or (f == "name" and value == picked.name):
            continue
        if f == "provider" and implied:
            continue
        if f == "tool_filters":
            value = tools_yaml(value)
        elif f == "providers":
            value = [template_item(i) for i in value]
        out[YAML_FIELD.get(f, f)] = inert(value)
    if picked.stamp is not None and picked.stamp.protect:
        out["protect"] = True
    return out


@dataclass
class Secrets:
    """Hands out `${env:…}` placeholders and remembers what each one feeds."""

    env: EnvNames = field(default_factory=EnvNames)
    made: list[Placeholder] = field(default_factory=list)

    def placeholder(self, address: Address, path: str) -> str:
        name = self.env.new(address.kind, address.name, path)
        self.made.append(Placeholder(env=name, address=str(address), field=path))
        return "${env:" + name + "}"

    def tree(self, address: Address, path: str, value: Any) -> Any:
        """Every string inside `value` replaced by a placeholder (a field that was secret when applied)."""
        if isinstance(value, dict):
            return {k: self.tree(address, f"{path}.{k}", v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.tree(address, f"{path}[{i}]", v) for i, v in enumerate(value)]
        return self.placeholder(address, path) if isinstance(value, str) else value


def stamped_keys(stamp: Stamp | None) -> list[str] | None:
    """Top-level keys of the applied value, from a keyed stamp's per-key fingerprints."""
    if stamp is None or not stamp.secret_keys:
        return None
    try:
        keys = json.loads(stamp.secret_keys.split(":", 2)[2])
    except (IndexError, ValueError):
        return None
    return sorted(keys) if isinstance(keys, dict) else None


def value_keys(picked: Picked, spec: Spec, catalog: Catalog) -> list[str] | None:
    """The keys a write-only value has: known exactly from a keyed stamp, else every property of
    the catalog's JSON Schema for it (config schema, or the auth method's input schema)."""
    keys = stamped_keys(picked.stamp)
    if keys is not None:
        return keys
    provider = catalog.find(str(spec.get("provider") or ""))
    if provider is None:
        return None
    schema = provider.config_schema if picked.kind.value_schema == "config" \
        else provider.auth_method_schemas.get(str(spec.get("method")))
    props = schema.get("properties") if isinstance(schema, dict) else None
    return sorted(props) if isinstance(props, dict) else None


def entry(picked: Picked, spec: Spec, catalog: Catalog, secrets: Secrets, notes: list[str]) -> dict[str, Any]:
    """One resource's YAML: visible fields, fields that were secret when applied and write-only
    values as placeholders."""
    out = visible_fields(picked, spec)
    address = picked.address
    if not spec.get("name"):
        out.pop("name", None)  # `name:` defaults to the key: a blank one has no YAML form
        notes.append(f"{address} has no name in Metorial; applying this YAML names it {picked.name}")
    for f in sorted(picked.stamp.sensitive or ()) if picked.stamp else ():
        if spec.get(f) not in (None, [], {}):
            value = tools_yaml(spec[f]) if f == "tool_filters" else spec[f]
            out[YAML_FIELD.get(f, f)] = secrets.tree(address, YAML_FIELD.get(f, f), value)
    for f in picked.kind.secret_fields:
        if f == "value" and spec.get("vault"):
            continue  # a config from a vault holds no value of its own
        if f != "value":
            out[f] = secrets.placeholder(address, f)
            continue
        keys = value_keys(picked, spec, catalog)
        if keys is None:
            notes.append(f"{address}: the keys of its value are unknown (no schema): fill in value: by hand")
        out[f] = {k: secrets.placeholder(address, f"value.{k}") for k in keys or ()}
    return out


def export(listed: dict[str, list[Any]], catalog: Catalog, request: ExportRequest) -> Export:
    """The export's files from listed objects per kind (as the API returned them) and the catalog."""
    notes: list[str] = []
    pool = pick_managed(listed, request.stack, notes) if request.stack else pick_unmanaged(listed, notes)
    settled = settle(pool, catalog, request.include_defaults, notes)
    kept = [(p, s) for p, s in settled if not request.kinds or p.kind.kind in request.kinds]
    secrets = Secrets()
    sections: dict[str, dict[str, Any]] = {}
    for picked, spec in kept:
        sections.setdefault(picked.kind.section, {})[picked.name] = entry(picked, spec, catalog, secrets, notes)
    imports = [] if request.stack else [(str(p.address), p.obj["id"]) for p, _ in kept]
    text = config_text(request.stack or request.out_stack, sections, imports)
    return Export(files={CONFIG_FILE: text, ENV_FILE: env_text(secrets.made)}, resources=len(kept),
                  imports=len(imports), placeholders=tuple(secrets.made), notes=tuple(notes))


HEADER = ("# Written by `metorial-apply export`. Write-only values are ${env:…} placeholders: set the\n"
          "# variables listed in .env.example, then run `metorial-apply plan` on this directory.\n")


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=False, default_flow_style=False, width=100)


def config_text(stack: str, sections: dict[str, dict[str, Any]], imports: list[tuple[str, str]]) -> str:
    """The YAML file: stack, kinds in order, then `imports:` as one `{to: …, id: …}` a line."""
    text = HEADER + dump({"stack": stack, **sections})
    if imports:
        lines = [yaml.safe_dump({"to": to, "id": ident}, default_flow_style=True, allow_unicode=False,
                                sort_keys=False, width=float("inf")).strip() for to, ident in imports]
        text += "imports:\n" + "".join(f"  - {line}\n" for line in lines)
    return text


def env_text(placeholders: list[Placeholder]) -> str:
    """`.env.example`: every placeholder's variable, empty, after a comment naming what it feeds."""
    lines = ["# The write-only values of the exported resources, one variable each (names only).",
             "# Set them (e.g. from your secret store) before running `metorial-apply plan`."]
    for p in placeholders:
        lines += [f"# {p.address} {printable(p.field, 200)}", f"{p.env}="]
    return "\n".join(lines) + "\n"
