"""The provider catalog as text and JSON (`metorial-apply catalog`). Pure. Every string came
from the API, so text output passes through `inert`; JSON escapes everything non-ASCII."""

from __future__ import annotations

import json

from metorial_apply.core.inert import inert
from metorial_apply.core.provider import Field, ProviderDetail, ProviderSummary

FORMAT_VERSION = 1


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def render_providers(providers: list[ProviderSummary]) -> str:
    if not providers:
        return "The catalog has no providers.\n"
    rows = [["slug", "name", "current", "identifier"]]
    rows += [[inert(p.slug), inert(p.name), inert(p.current_version or "-"), inert(p.identifier)] for p in providers]
    count = len(providers)
    footer = f"{count} provider{'s' if count != 1 else ''}. `metorial-apply catalog SLUG` shows one."
    return "\n".join([*_table(rows), "", footer]) + "\n"


def _fields(fields: tuple[Field, ...], indent: str) -> list[str]:
    rows = [[inert(f.name) + ("*" if f.required else ""), inert(f.type or "-"), inert(f.description)]
            for f in fields]
    return [indent + line for line in _table(rows)] if rows else [indent + "(no fields)"]


def render_provider(detail: ProviderDetail) -> str:
    s = detail.summary
    lines = [f"{inert(s.name)} ({inert(s.slug)}) · {inert(s.identifier)} · {inert(s.id)}"]
    if detail.description:
        lines.append(inert(detail.description))
    versions = [inert(v) + (" (current)" if v == s.current_version else "") for v in detail.versions]
    lines += ["", "Versions (`version:` of deployments): " + (", ".join(versions) or "none")]
    lines += ["", "Auth methods (`method:` of auth_configs; * required in `value:`):"]
    for method in detail.auth_methods:
        lines.append(f"  {inert(method.key)}  {inert(method.type or '-')}  {inert(method.name)}".rstrip())
        lines += _fields(method.fields, "    ")
    if not detail.auth_methods:
        lines.append("  none")
    lines += ["", "Config (`value:` of configs and config vaults; * required):"]
    lines += _fields(detail.config_fields, "  ")
    lines += ["", f"Tools (`tools:` of deployments and template providers): {len(detail.tools)}"]
    lines += ["  " + line for line in _table([[inert(t.key), inert(t.name)] for t in detail.tools])] if detail.tools \
        else ["  none"]
    return "\n".join(lines) + "\n"


def catalog_json(value: list[ProviderSummary] | ProviderDetail) -> str:
    """Versioned, sorted JSON; `ensure_ascii` escapes controls and bidi characters alike."""
    body: dict[str, object] = {"format_version": FORMAT_VERSION}
    if isinstance(value, ProviderDetail):
        body["provider"] = value.model_dump(mode="json")
    else:
        body["providers"] = [p.model_dump(mode="json") for p in value]
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
