"""`ignore: [field, …]` on a resource: which YAML fields it may name, checked at their YAML line.

An ignored field is the dashboard's: never compared, never sent on update; sent on create when
the YAML sets it (as Terraform's `ignore_changes`). Identity fields (create-only) cannot be
ignored: changing one means a new object, so there is nothing for the dashboard to own. A write-
only secret may be ignored (its fingerprint is then not compared either); where a kind keeps
several secret fields in one fingerprint, they are ignored together.
"""

from __future__ import annotations

from metorial_apply.config.sections import Entry, did_you_mean
from metorial_apply.config.yamlsource import diagnostic
from metorial_apply.core.errors import Diagnostic
from metorial_apply.core.kinds import KindSpec
from metorial_apply.core.specs import YAML_TO_SPEC

OWN = ("protect", "ignore")  # metorial-apply's own settings, not fields the dashboard edits


def ignorable(kind: KindSpec) -> tuple[str, ...]:
    """The YAML fields of `kind` that `ignore:` may name, sorted."""
    return tuple(sorted(f for f in kind.model.model_fields
                        if f not in OWN and YAML_TO_SPEC.get(f, f) not in kind.create_only))


def _problem(kind: KindSpec, name: str) -> tuple[str, str | None] | None:
    """(message, hint) for one listed name, or None when it may be ignored."""
    allowed = ignorable(kind)
    if name in allowed:
        return None
    if name in OWN:
        return f"{name} is metorial-apply's own setting, not a field the dashboard edits", None
    if name in kind.model.model_fields:
        return (f"{name} cannot be ignored: it is create-only for {kind.label} (a change means a new object)",
                "ignorable fields: " + ", ".join(allowed))
    return (f'unknown field "{name}" in ignore',
            did_you_mean(name, allowed) or f"{kind.kind} fields: " + ", ".join(allowed))


def ignore_problems(entry: Entry, names: list[str]) -> list[Diagnostic]:
    """Every bad name in an entry's `ignore:` list, each at its own YAML line."""
    doc, kind, where = entry.source.doc, entry.kind, entry.path + ("ignore",)
    out = []
    for i, name in enumerate(names):
        found = _problem(kind, name)
        if found:
            out.append(diagnostic(doc.value_pos(where + (i,)), where + (i,), found[0], found[1]))
    secret = [f for f in kind.secret_fields if f in names]
    if secret and len(secret) < len(kind.secret_fields):
        out.append(diagnostic(doc.value_pos(where), where,
                              f"{', '.join(kind.secret_fields)} share one fingerprint: ignore all of them or none",
                              "add " + ", ".join(f for f in kind.secret_fields if f not in names)))
    return out


def ignored_fields(names: list[str]) -> frozenset[str]:
    """The canonical spec names (secret fields as written) of a valid `ignore:` list."""
    return frozenset(YAML_TO_SPEC.get(n, n) for n in names)
