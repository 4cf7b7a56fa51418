"""The top level of config files: known keys, `stack:`, and the resource entries of every
section, merged across files (a name defined twice is one error naming both places)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metorial_apply.config.interpolate import InterpolationError, Sources, Variable, interpolate
from metorial_apply.config.variables import Source
from metorial_apply.config.yamlsource import YamlPath, diagnostic
from metorial_apply.core.errors import Diagnostic
from metorial_apply.core.keys import KEY_SECTIONS
from metorial_apply.core.kinds import SECTIONS, KindSpec
from metorial_apply.core.model import NAME
from metorial_apply.core.suggest import did_you_mean

STACK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
TOP_LEVEL = ("stack", "variables", *SECTIONS, "imports", "moved", "removed", *KEY_SECTIONS)


@dataclass(frozen=True)
class Entry:
    """One resource as written: its kind, name, raw data and the file it is in."""

    kind: KindSpec
    name: str
    data: Any
    source: Source

    @property
    def path(self) -> YamlPath:
        return (self.kind.section, self.name)


def check_top_level(source: Source) -> list[Diagnostic]:
    """The document is a mapping of known top-level keys whose sections are mappings."""
    doc = source.doc
    if not isinstance(doc.data, dict):
        return [
            diagnostic(doc.value_pos(()), (), "the top level must be a mapping (stack:, deployments:, configs:, …)")
        ]
    problems = []
    for key, value in doc.data.items():
        if key not in TOP_LEVEL:
            hint = did_you_mean(key, TOP_LEVEL) or "top-level keys are: " + ", ".join(TOP_LEVEL)
            problems.append(diagnostic(doc.key_pos((key,)), (), f'unknown top-level key "{key}"', hint))
        elif key in (*SECTIONS, *KEY_SECTIONS) and value is not None and not isinstance(value, dict):
            what = SECTIONS[key].kind if key in SECTIONS else key.removesuffix("s")
            problems.append(diagnostic(doc.value_pos((key,)), (key,),
                                       f"{key} must be a mapping of name → {what} fields"))
    return problems


def collect_entries(sources: list[Source]) -> tuple[list[Entry], list[Diagnostic]]:
    """Every resource entry across files; bad names and names defined twice are problems."""
    entries: list[Entry] = []
    problems: list[Diagnostic] = []
    for section, kind in SECTIONS.items():
        found, more = section_entries(sources, section, kind.kind)
        entries += [Entry(kind, name, data, source) for name, data, source in found]
        problems += more
    return entries, problems


def section_entries(sources: list[Source], section: str, what: str
                    ) -> tuple[list[tuple[str, Any, Source]], list[Diagnostic]]:
    """(name, data, file) of every entry of one top-level section across files, e.g. every
    deployment, or every `api_keys:` entry; bad names and names defined twice are problems."""
    found: dict[str, tuple[str, Any, Source]] = {}
    problems: list[Diagnostic] = []
    for source in sources:
        block = source.doc.data.get(section) if isinstance(source.doc.data, dict) else None
        for name, data in (block.items() if isinstance(block, dict) else []):
            here = source.doc.key_pos((section, name))
            if not NAME.fullmatch(name):
                problems.append(diagnostic(here, (section,), f'"{name}" is not a valid {what} name',
                                           "names are up to 100 letters, digits, _, . and -, not starting with . or -"))
            elif name in found:
                first = found[name][2].doc.key_pos((section, name))
                problems.append(diagnostic(here, (section, name),
                                           f'{what} "{name}" is defined twice: here and at {first.file}:{first.line}',
                                           "names are unique per kind across all files; rename or remove one"))
            else:
                found[name] = (name, data, source)
    return list(found.values()), problems


def find_stack(sources: list[Source], override: str | None, env: Mapping[str, str],
               variables: Mapping[str, Variable], *, complete: bool = True) -> tuple[str | None, list[Diagnostic]]:
    """The stack name: `--stack` wins; else every `stack:` in the files, which must agree.

    A missing stack is only reported when every file could be read (`complete`).
    """
    found: list[tuple[str, Source]] = []
    problems: list[Diagnostic] = []
    for source in sources:
        data = source.doc.data
        if not isinstance(data, dict) or "stack" not in data:
            continue
        value, problem = _stack_value(source, data["stack"], env, variables)
        if problem:
            problems.append(problem)
        elif value is not None:
            problems += _stack_conflict(found, value, source)
            found.append((value, source))
    if override is not None:
        if not STACK.fullmatch(override):
            problems.append(Diagnostic(f'--stack "{override}" is not a valid stack name', hint=_STACK_HINT))
        return override, problems
    if not found and not problems and complete:
        where = sources[0].doc.file if sources else None
        problems.append(Diagnostic("no stack: given", file=where,
                                   hint="add `stack: <name>` (the ownership scope of these resources) or pass --stack"))
    return (found[0][0] if found else None), problems


_STACK_HINT = "a stack name is up to 64 letters, digits, _, . and -, starting with a letter or digit"


def _stack_value(source: Source, raw: Any, env: Mapping[str, str], variables: Mapping[str, Variable]
                 ) -> tuple[str | None, Diagnostic | None]:
    doc = source.doc
    pos = doc.value_pos(("stack",))
    if not isinstance(raw, str):
        return None, diagnostic(pos, ("stack",), "stack must be a string")
    try:
        found = interpolate(raw, Sources(env=env, variables=variables, read_file=source.read_file))
    except InterpolationError as exc:
        return None, diagnostic(pos, ("stack",), exc.message, exc.hint)
    if found.sensitive:
        return None, diagnostic(
            pos,
            ("stack",),
            "stack cannot come from ${env:} or ${file:} (those values are secret, the stack is printed)",
            "use ${var.NAME} with --var, or pass --stack",
        )
    if not STACK.fullmatch(found.value):
        return None, diagnostic(pos, ("stack",), f'"{found.value}" is not a valid stack name', _STACK_HINT)
    return found.value, None


def _stack_conflict(found: list[tuple[str, Source]], value: str, source: Source) -> list[Diagnostic]:
    for other, where in found:
        if other != value:
            first = where.doc.value_pos(("stack",))
            return [diagnostic(source.doc.value_pos(("stack",)), ("stack",),
                               f'stack "{value}" differs from stack "{other}" at {first.file}:{first.line}',
                               "all files of one configuration belong to one stack")]
    return []
