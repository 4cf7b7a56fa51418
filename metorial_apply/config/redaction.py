"""The last guard on diagnostics: no secret value in a message, path or hint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from metorial_apply.core.errors import Diagnostic
from metorial_apply.core.kinds import KINDS
from metorial_apply.core.model import Resource, strings_in
from metorial_apply.core.scrub import MIN_SCRUBBED
from metorial_apply.core.state import State

MIN_REDACT = 4  # shorter secrets would garble every message; none is ever put in one on purpose


def redact(problems: list[Diagnostic], secrets: Sequence[str]) -> list[Diagnostic]:
    """Last guard: replace any secret that made it into a message or hint."""
    words = sorted({s for s in secrets if len(s) >= MIN_REDACT}, key=len, reverse=True)

    def clean(text: str | None) -> str | None:
        for word in words if text else ():
            text = text.replace(word, "***")  # type: ignore[union-attr]
        return text

    return [
        Diagnostic(clean(d.message) or "", d.file, d.line, d.column, clean(d.path), clean(d.hint)) for d in problems
    ]


def short_secrets(desired: State) -> list[Diagnostic]:
    """A warning for each resource holding a secret value too short for the output scrubber
    (core/scrub.py) to look for everywhere: it is then replaced only in what servers send, and
    there only as a whole word. Names the field, never the value."""
    out = []
    for resource in desired:
        values = {f: resource.spec.get(f) for f in resource.sensitive} | _secret_fields(resource)
        fields = sorted(f for f, v in values.items() if any(0 < len(s) < MIN_SCRUBBED for s in strings_in(v)))
        file, _, line = (resource.source or "").rpartition(":")
        out += [Diagnostic(f"{resource.address}: a secret value in `{f}` is shorter than {MIN_SCRUBBED} characters: "
                           "output is scrubbed of it only where a server quotes it, as a whole word",
                           file or None, int(line) if line.isdigit() else None, warning=True,
                           hint="a secret this short is easy to guess; use a longer one") for f in fields]
    return out


def _secret_fields(resource: Resource) -> dict[str, Any]:
    """The write-only value by its YAML field (one field: the whole value; several: by name)."""
    if resource.secret is None:
        return {}
    names, secret = KINDS[resource.address.kind].secret_fields, resource.secret.reveal()
    if len(names) == 1 or not isinstance(secret, dict):
        return {names[0] if names else "value": secret}
    return {name: secret.get(name) for name in names}
