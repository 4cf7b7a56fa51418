"""Problems found after loading (unknown provider or method, a secret value against the
provider's schema, what the API would refuse) are first known by resource: `placed` moves each
to the line and column of the field it names, and names the variable behind a value that came
from an environment variable set but empty (a pipeline's missing secret often arrives so)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from metorial_apply.config.yamlsource import Document, YamlPath, format_path, read_yaml_file, value_at
from metorial_apply.core.errors import ConfigError, Diagnostic

WHOLE_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def placed(problems: Sequence[Diagnostic], env: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """`problems` at their fields' positions (those already at a column are left as they are)."""
    docs: dict[str, tuple[Document, dict[str, YamlPath]] | None] = {}
    return [_place(d, docs, os.environ if env is None else env) for d in problems]


def _place(d: Diagnostic, docs: dict[str, tuple[Document, dict[str, YamlPath]] | None],
           env: Mapping[str, str]) -> Diagnostic:
    if not d.file or not d.path or d.column is not None:
        return d
    if d.file not in docs:
        docs[d.file] = _read(d.file)
    found = docs[d.file]
    if found is None:
        return d
    doc, paths = found
    text = d.path
    while text and text not in paths:  # the nearest field written in the YAML (a value from ${file:} has none)
        text = text[: max(text.rfind("."), text.rfind("["), 0)]
    if not text:
        return d
    path = paths[text]
    pos = doc.values[path]
    return replace(d, line=pos.line, column=pos.column, hint=_empty_hint(value_at(doc.data, path), env) or d.hint)


def _read(file: str) -> tuple[Document, dict[str, YamlPath]] | None:
    try:
        doc = read_yaml_file(file, file)
    except ConfigError:
        return None
    return doc, {format_path(p): p for p in doc.values}


def _empty_hint(raw: Any, env: Mapping[str, str]) -> str | None:
    match = WHOLE_ENV.fullmatch(raw) if isinstance(raw, str) else None
    if match is None or env.get(match.group(1)) != "":
        return None
    return f"the environment variable {match.group(1)} is set but empty: set it to the value, or unset it"
